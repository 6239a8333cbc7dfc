"""The syntax-tree helpers the passes walk with (``overbar.transpiler.names``) against the
standard library's: the same nodes in the same order, the same locations, the same copies."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest

import overbar
from overbar.transpiler import names
from tests.support import define

ROOT = Path(__file__).resolve().parent.parent

# Every kind of block: loops with else, try with handlers and finally, match, nested defs.
BLOCKS = """
def f(x, *args, k=1, **kwargs):
    for i in range(3):
        if x > i:
            x = x * 2
        elif x < 0:
            continue
        else:
            break
    else:
        x = -x
    while x > 10:
        x = x / 2
    try:
        y = [v ** 2 for v in args if v]
    except (ValueError, TypeError) as error:
        y = None
    else:
        y = y or x
    finally:
        z = lambda a: a + 1
    match k:
        case 1:
            w = 2
        case _:
            w = 3
    def inner(a):
        return a * w
    with open(x) as handle:
        q = handle.read()
    return inner(y), z, q
"""


def trees() -> list[ast.AST]:
    """Parsed code of every shape, and the stages of a generated adjoint with loops."""
    found = [ast.parse(BLOCKS), ast.parse((ROOT / "overbar" / "api.py").read_text())]
    f = define(
        "def f(x, W):\n    h = x\n    for i in range(3):\n        if np.sum(h) > 0:\n"
        "            h = np.tanh(W @ h)\n        else:\n            h = h * 0.5\n"
        "    return np.sum(h ** 2)\n"
    )
    stages = overbar.grad(f, wrt=("W",)).stages
    found += [stages.normal_form.tree, stages.adjoint.tree, stages.simplified.tree]
    return found


@pytest.mark.parametrize("index", range(5))
def test_walk_breadth_first_is_ast_walk(index):
    tree = trees()[index]
    assert [id(n) for n in names.walk_breadth_first(tree)] == [id(n) for n in ast.walk(tree)]


@pytest.mark.parametrize("index", range(5))
def test_statements_breadth_first_are_ast_walks_statements_in_order(index):
    tree = trees()[index]
    expected = [id(n) for n in ast.walk(tree) if isinstance(n, ast.stmt)]
    assert [id(n) for n in names.statements_breadth_first(tree)] == expected


@pytest.mark.parametrize("index", range(5))
def teststatements_depth_first_are_walks_statements_in_order(index):
    tree = trees()[index]
    expected = [id(n) for n in names.walk(tree) if isinstance(n, ast.stmt)]
    assert [id(n) for n in names.statements_depth_first(tree)] == expected


@pytest.mark.parametrize("index", range(5))
def test_names_loaded_and_stored_are_those_a_walk_finds_in_order(index):
    tree = trees()[index]
    expected = [
        n.id for n in names.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    ]
    assert names.names_loaded(tree) == expected and expected
    stored = [
        n.id for n in names.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    ]
    assert names.names_stored(tree) == stored and stored
    every = [n.id for n in names.walk(tree) if isinstance(n, ast.Name)]
    assert names.names_with(tree) == every


@pytest.mark.parametrize("index", range(5))
def test_names_in_are_the_names_parameters_and_definitions_a_walk_finds(index):
    tree = trees()[index]
    expected = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            expected.add(node.id)
        elif isinstance(node, ast.arg):
            expected.add(node.arg)
        elif isinstance(node, ast.FunctionDef):
            expected.add(node.name)
    assert names.names_in(tree) == expected and expected


@pytest.mark.parametrize("index", range(5))
def test_names_read_are_the_loads_of_a_breadth_first_walk(index):
    tree = trees()[index]
    for statement in names.statements_breadth_first(tree):
        if isinstance(statement, ast.For):
            parts = [statement.iter]
        elif isinstance(statement, ast.If | ast.While):
            parts = [statement.test]
        else:
            parts = [statement]
        expected = [
            n.id
            for part in parts
            for n in ast.walk(part)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        ]
        assert names.names_read(statement) == expected


@pytest.mark.parametrize("index", range(5))
def test_bindings_are_those_a_walk_of_every_node_finds(index):
    tree = trees()[index]
    body = tree.body if isinstance(tree, ast.Module) else [tree]
    expected: dict[str, list[int]] = {}
    for node in (n for statement in body for n in names.walk(statement)):
        if isinstance(node, ast.Assign | ast.For):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for name in (n for target in targets for n in names.walk(target)):
                if isinstance(name, ast.Name):
                    expected.setdefault(name.id, []).append(id(node))
    found = {name: [id(s) for s in bound] for name, bound in names.bindings(body).items()}
    assert found == expected and expected


@pytest.mark.parametrize("index", range(5))
def test_fix_missing_locations_is_the_standard_librarys(index):
    tree = trees()[index]
    for step, node in enumerate(ast.walk(tree)):  # take locations off a third of the nodes
        if step % 3 == 0:
            for attribute in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
                node.__dict__.pop(attribute, None)
    ours, theirs = copy.deepcopy(tree), copy.deepcopy(tree)
    names.fix_missing_locations(ours)
    ast.fix_missing_locations(theirs)
    assert ast.dump(ours, include_attributes=True) == ast.dump(theirs, include_attributes=True)


@pytest.mark.parametrize("index", range(5))
def test_clone_copies_every_node_but_the_fieldless_ones(index):
    tree = trees()[index]
    copied = names.clone(tree)
    assert ast.dump(copied, include_attributes=True) == ast.dump(tree, include_attributes=True)
    for original, twin in zip(ast.walk(tree), ast.walk(copied), strict=True):
        fieldless = not original._fields and not original._attributes  # Load, Add, ...
        assert (original is twin) == fieldless


def test_clone_leaves_out_what_a_pass_set_on_a_node():
    """A cache a pass keeps on a statement (``copies._binds``) describes that statement, not
    its copy, which may then be changed: the copy has the node's fields and attributes only,
    whether or not the node has its locations."""
    for source in ("y = x + 1", "y = x"):
        statement = ast.parse(source).body[0]
        statement._overbar_binds = frozenset({"y"})
        copied = names.clone(statement)
        assert "_overbar_binds" not in copied.__dict__
        assert ast.dump(copied, include_attributes=True) == ast.dump(
            statement, include_attributes=True
        )
    bare = ast.Assign(targets=[ast.Name("y", ast.Store())], value=ast.Name("x", ast.Load()))
    bare._overbar_binds = frozenset({"y"})
    copied = names.clone(bare)
    assert "_overbar_binds" not in copied.__dict__ and "lineno" not in copied.__dict__
    assert ast.dump(copied) == ast.dump(bare)


def _rewrites(base: type) -> type:
    """A transformer on ``base`` that renames, replaces, drops and expands nodes, and visits
    an operator: every kind of answer a visitor gives ``generic_visit``."""

    class Rewrites(base):
        def __init__(self):
            self.seen: list[str] = []

        def visit_Name(self, node):
            self.seen.append(node.id)
            if node.id == "x":
                return ast.Name(id="renamed", ctx=node.ctx)
            return node

        def visit_BinOp(self, node):
            self.generic_visit(node)
            if isinstance(node.op, ast.Mult):
                return ast.Call(func=ast.Name("times", ast.Load()), args=[node.left, node.right])
            return node

        def visit_Expr(self, node):
            return None  # dropped

        def visit_Return(self, node):
            self.generic_visit(node)
            return [ast.Pass(), node]  # expanded into two statements

        def visit_Add(self, node):
            self.seen.append("+")
            return ast.Sub()

        def visit_Constant(self, node):
            self.seen.append(repr(node.value))
            return node

    return Rewrites


@pytest.mark.parametrize("index", range(5))
def test_transformer_rewrites_as_the_standard_librarys(index):
    tree = trees()[index]
    ours, theirs = copy.deepcopy(tree), copy.deepcopy(tree)
    mine, standard = _rewrites(names.Transformer)(), _rewrites(ast.NodeTransformer)()
    ours, theirs = mine.visit(ours), standard.visit(theirs)
    assert ast.dump(ours, include_attributes=True) == ast.dump(theirs, include_attributes=True)
    assert mine.seen == standard.seen and mine.seen


@pytest.mark.parametrize("index", range(5))
def test_transformer_without_visitors_changes_nothing(index):
    tree = trees()[index]
    dumped = ast.dump(tree, include_attributes=True)
    assert names.Transformer().visit(tree) is tree
    assert ast.dump(tree, include_attributes=True) == dumped


def test_held_assignments_go_back_in_the_order_they_were_held():
    """simplify's folding holds ``tmp2`` then ``tmp1`` for their reader; the write into ``a``,
    which both values read, puts them back where they were, in that order (found through
    the index of what each held value reads, not a scan of them all)."""
    from overbar.transpiler import simplify

    body = ast.parse("tmp2 = a + 1\ntmp1 = a * 2\na = 5\nb = tmp1 + tmp2\nreturn b").body
    folded, _ = simplify._fold_temporaries(body, 0, frozenset({"tmp1", "tmp2"}), frozenset())
    assert [ast.unparse(s) for s in folded] == [
        "tmp2 = a + 1",
        "tmp1 = a * 2",
        "a = 5",
        "b = tmp1 + tmp2",
        "return b",
    ]


def test_a_held_assignment_is_folded_where_nothing_it_reads_changes():
    from overbar.transpiler import simplify

    body = ast.parse("tmp2 = a + 1\ntmp1 = a * 2\nc = 5\nb = tmp1 + tmp2\nreturn b").body
    folded, _ = simplify._fold_temporaries(body, 0, frozenset({"tmp1", "tmp2"}), frozenset())
    assert [ast.unparse(s) for s in folded] == ["c = 5", "b = a * 2 + (a + 1)", "return b"]

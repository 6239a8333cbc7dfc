#!/usr/bin/env bash
# Mutation testing of what decides correctness (cosmic-ray, from the dev extra):
#   bash mutation/run.sh peephole [SAMPLE]     # also simplify, invariance, rules, linalg
# cosmic-ray writes each mutant into the source file, so it runs on a copy of the tree in a
# temporary folder, never in the checkout. SAMPLE (default: all) runs that many mutants, drawn
# with a fixed seed; the others are marked skipped. Prints cosmic-ray's report at the end.
set -euo pipefail
module=${1:?name a module: peephole, simplify, invariance, rules or linalg}
sample=${2:-}
root="$(cd "$(dirname "$0")/.." && pwd)"
work=$(mktemp -d /tmp/overbar-mutation-XXXX)
cp -r "$root/overbar" "$root/tests" "$root/examples" "$root/pyproject.toml" "$work/"
cd "$work"
export PYTHONPATH="$work"
python -c "import overbar, sys; sys.exit(not overbar.__file__.startswith('$work'))"
cosmic-ray init "$root/mutation/$module.toml" session.sqlite
if [ -n "$sample" ]; then
  python - "$sample" <<'PY'
import random, sqlite3, sys
db = sqlite3.connect("session.sqlite")
jobs = [row[0] for row in db.execute("SELECT job_id FROM mutation_specs")]
keep = set(random.Random(8).sample(jobs, min(int(sys.argv[1]), len(jobs))))
for job in jobs:
    if job not in keep:
        db.execute(
            "INSERT INTO work_results (job_id, worker_outcome, output, test_outcome, diff)"
            " VALUES (?, 'SKIPPED', 'not sampled', NULL, '')", (job,)
        )
db.commit()
PY
fi
cosmic-ray exec "$root/mutation/$module.toml" session.sqlite
cr-report session.sqlite --show-pending | tail -n 5
echo "session: $work/session.sqlite (cr-report $work/session.sqlite for every survivor)"

#!/usr/bin/env bash
# The GPU proof on a lent machine that has python3 with torch, numpy and matplotlib but no Jupyter
# packages and no package index. Here, first (the wheels the course pins, for Python 3.12):
#   python3 -m pip download --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d .whl \
#       ipykernel==7.4.0 ipython==9.18.1 ipywidgets==8.1.9 nbformat==5.11.1 nbval==0.11.0 \
#       nbclient==0.11.0 jupyter_client==8.10.0
# (then remove the wheels of packages the machine has: pytest, pygments, packaging, psutil...).
# There, from the repository root, with .whl carried: bash utils/tools/gpu_proof_remote.sh OUT [gpu_proof options]
# e.g. PROOF_TIMEOUT=470 bash utils/tools/gpu_proof_remote.sh "$OUT" --budgets accelerator cpu \
#          --cpu-notebooks 00 05 --jobs 9 --selfcheck-jobs 4 --cell-timeout 300
# Environment: PROOF_TIMEOUT (seconds for the whole proof, default 480), PROOF_JOBS (default
# --jobs, 8), PROOF_PYTHON (default python3), PROOF_SITE (where the wheels go, default /tmp/site),
# PROOF_BLAS_THREADS (numpy's threads per kernel, default 2, as on the 2-core CPU reference; many
# kernels run at once), PROOF_NO_WHEELS (set: install nothing, for a Python that has the packages).
# The dry run here (the .venv has Jupyter; the wheels are for 3.12): PROOF_PYTHON=.venv/bin/python
# PROOF_NO_WHEELS=1 bash utils/tools/gpu_proof_remote.sh /tmp/dry --device cpu --notebooks 01
# Writes OUT/machine.txt, OUT/log.txt and gpu_proof's OUT/report.{json,md} (four files).
set -uo pipefail
out=${1:?usage: gpu_proof_remote.sh OUT [gpu_proof options]}
py=${PROOF_PYTHON:-python3}
site=${PROOF_SITE:-/tmp/site}
mkdir -p "$out"
if [ -z "${PROOF_NO_WHEELS:-}" ]; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl || exit 1
fi
export PYTHONPATH=$site:$PWD PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=${PROOF_BLAS_THREADS:-2} OPENBLAS_NUM_THREADS=${PROOF_BLAS_THREADS:-2} MKL_NUM_THREADS=${PROOF_BLAS_THREADS:-2}
{ nvidia-smi -L || echo "no nvidia-smi"; "$py" -c 'import torch, numpy; print("torch", torch.__version__, "numpy", numpy.__version__)'; } > "$out/machine.txt" 2>&1
cat "$out/machine.txt"
# Into a file, not a pipe: a kernel left behind by a proof cut short must not hold the output open.
: > "$out/raw_log.txt"  # appended to (>>) by the proof and by the watchdog's last line alike
"$py" -m utils.tools.gpu_proof --out "$out" --jobs "${PROOF_JOBS:-8}" "${@:2}" >> "$out/raw_log.txt" 2>&1 &
proof=$!
tree() {  # the process ids under $1 (kernels start in sessions of their own, so not by group)
    local child
    for child in $(ps -eo pid=,ppid= | awk -v p="$1" '$2 == p {print $1}'); do echo "$child"; tree "$child"; done
}
stop() {
    local pids; pids="$1 $(tree "$1")"
    kill -TERM $pids 2> /dev/null; sleep 5; kill -KILL $pids 2> /dev/null
}
( sleep "${PROOF_TIMEOUT:-480}"; echo "gpu_proof_remote: stopped after ${PROOF_TIMEOUT:-480} s" >> "$out/raw_log.txt"
  stop "$proof" ) > /dev/null 2>&1 &
watchdog=$!
wait "$proof"; rc=$?
if grep -q "^gpu_proof_remote: stopped" "$out/raw_log.txt"; then
    wait "$watchdog"  # until it has killed what ignored its TERM (the notebook workers do)
else
    kill $(tree "$watchdog") "$watchdog" 2> /dev/null
fi
grep -v "Kernel is running over TCP" "$out/raw_log.txt" > "$out/log.txt"
rm -f "$out/raw_log.txt"
cat "$out/log.txt"
exit "$rc"

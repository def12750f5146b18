#!/usr/bin/env bash
# The GPU proof on a lent machine that has python3 with torch, numpy and matplotlib but no Jupyter
# packages and no package index. Here, first (the wheels the course pins, for Python 3.12):
#   python3 -m pip download --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d .whl \
#       ipykernel==7.4.0 ipython==9.18.1 ipywidgets==8.1.9 nbformat==5.11.1 nbval==0.11.0 \
#       nbclient==0.11.0 jupyter_client==8.10.0
# (then remove the wheels of packages the machine has: pytest, pygments, packaging, psutil...).
# There, from the repository root, with .whl carried: bash utils/tools/gpu_proof_remote.sh OUT
set -uo pipefail
out=${1:?usage: gpu_proof_remote.sh OUT}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
{ nvidia-smi -L; python3 -c 'import torch, numpy; print("torch", torch.__version__, "numpy", numpy.__version__)'; } 2>&1 | tee "$out/machine.txt"
timeout "${PROOF_TIMEOUT:-480}" python3 -m utils.tools.gpu_proof --out "$out" --jobs "${PROOF_JOBS:-8}" "${@:2}" 2>&1 \
    | grep -v "Kernel is running over TCP" | tee "$out/log.txt"

# Sourced by the README's two set-up commands (scripts/dashboard.sh, scripts/test.sh): a virtual
# environment in .venv with embaug installed, with the extras named in $1 ("" for none). Nothing is
# installed into the system Python, so it works where that refuses pip (PEP 668: stock Debian, Ubuntu).
venv="${EMBAUG_VENV:-.venv}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then  # Debian ships venv's pip separately
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
  fi
  python3 -m venv "$venv"
fi
# constraints.txt pins the local CPU build of torch: pip fails loudly instead of pulling CUDA wheels. With a
# GPU, install torch for your CUDA into .venv first and set EMBAUG_CONSTRAINTS= (empty) to keep it.
constraints="${EMBAUG_CONSTRAINTS-constraints.txt}"
"$venv/bin/python" -m pip install -q ${constraints:+-c "$constraints"} -e ".${1:+[$1]}"
"$venv/bin/python" - <<'PY'
import torch
if torch.version.cuda is not None and not torch.cuda.is_available():
    raise SystemExit(f"torch {torch.__version__} is a CUDA build on a machine without CUDA: reinstall with -c constraints.txt")
print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
PY
export PATH="$PWD/$venv/bin:$PATH"

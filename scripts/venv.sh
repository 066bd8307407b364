# Sourced by the README's two set-up commands (scripts/dashboard.sh, scripts/test.sh): a virtual
# environment in .venv with embaug installed, with the extras named in $1 ("" for none). Nothing is
# installed into the system Python, so it works where that refuses pip (PEP 668: stock Debian, Ubuntu).

# Debian's packages, as root or through sudo; without either, say what to install and stop.
apt_install() {
  local run=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "embaug set-up: please install the Debian package(s) $* (as root: apt-get install $*), then run this again." >&2
      exit 1
    fi
    run=(sudo)
  fi
  "${run[@]}" apt-get update -qq
  "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "embaug set-up: embaug needs Python >= 3.10; python3 is $(python3 -V 2>&1)." >&2
  exit 1
fi
venv="${EMBAUG_VENV:-.venv}"
if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then  # absent, or left half-made
  if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then  # Debian ships venv's pip separately
    apt_install python3-venv
  fi
  python3 -m venv --clear "$venv"
fi
venv="$(cd "$venv" && pwd)"

# constraints.txt pins the local CPU build of torch: pip fails loudly instead of pulling CUDA wheels.
# PyPI has no "+cpu" builds, so PyTorch's CPU index is added where pip cannot find that build already
# (this machine's own wheel folder, or a torch installed before). With a GPU, install torch for your
# CUDA into the environment first and set EMBAUG_CONSTRAINTS= (empty) to keep it.
constraints="${EMBAUG_CONSTRAINTS-constraints.txt}"
index=()
if [ -n "$constraints" ]; then
  pinned="$(grep -E '^torch==' "$constraints" | cut -d= -f3)"
  have="$("$venv/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)"
  if [ "$have" != "$pinned" ] && ! "$venv/bin/python" -m pip index versions torch 2>/dev/null | grep -qF "$pinned"; then
    index=(--extra-index-url https://download.pytorch.org/whl/cpu)
  fi
fi
"$venv/bin/python" -m pip install -q "${index[@]}" ${constraints:+-c "$constraints"} -e ".${1:+[$1]}"
"$venv/bin/python" - <<'PY'
import torch
if torch.version.cuda is not None and not torch.cuda.is_available():
    raise SystemExit(f"torch {torch.__version__} is a CUDA build on a machine without CUDA: reinstall with -c constraints.txt")
print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
PY
export PATH="$venv/bin:$PATH"

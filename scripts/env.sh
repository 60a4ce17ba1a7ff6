# Shared set-up for the project's scripts: sourced, not executed.
#
# - Installs the system packages the build needs when they are missing
#   (the RocksDB bindings need libclang for bindgen, and a C++ compiler).
# - Points every script at one shared cargo target directory outside the
#   clone, so CI, the demo, the tests and the benchmarks reuse one RocksDB
#   build (the bundled C++ build takes ~15 minutes on two cores).

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/share-audit/target}"
export SHARED_DIR="${SHARED_DIR:-$REPO_ROOT/../shared}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

have_libclang() {
  ldconfig -p 2>/dev/null | grep -q 'libclang\(-[0-9.]*\)\?\.so' && return 0
  compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null && return 0
  compgen -G '/usr/lib/*-linux-gnu/libclang-[0-9]*.so*' >/dev/null && return 0
  return 1
}

ensure_system_deps() {
  local missing=()
  have_libclang || missing+=(libclang-dev)
  command -v c++ >/dev/null 2>&1 || missing+=(g++)
  command -v make >/dev/null 2>&1 || missing+=(make)
  command -v nm >/dev/null 2>&1 || missing+=(binutils)
  # The reference verifier (specs/reference/verify.py): Python 3 and the
  # `cryptography` package.
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  python3 -c 'import cryptography' >/dev/null 2>&1 || missing+=(python3-cryptography)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing missing system packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not installed; install Rust from https://rustup.rs" >&2
    exit 2
  fi
}

# Number of parallel jobs for cargo; the machine has two cores.
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

# Builds every binary. The verifier is built on its own: in a workspace build
# Cargo unifies features, and the notary's `ledger/store` feature would link
# RocksDB into the offline verifier.
build_binaries() {
  (cd "$REPO_ROOT" && cargo build --release -q -p notary -p department -p e2e \
     && cargo build --release -q -p verifier -p witness)
}

# Fails if the verifier depends on, or contains, RocksDB.
check_verifier_standalone() {
  # Each output is read whole before it is searched: under pipefail,
  # `producer | grep -q` fails when grep stops early (the producer dies of
  # SIGPIPE), which would turn a match into a pass.
  local deps syms
  deps=$(cd "$REPO_ROOT" && cargo tree -q -p verifier -e normal,build --prefix none)
  if grep -qi rocksdb <<<"$deps"; then
    echo "the verifier depends on RocksDB" >&2; return 1
  fi
  syms=$(nm "$CARGO_TARGET_DIR/release/verifier") \
    || { echo "nm could not read the verifier binary" >&2; return 1; }
  if grep -qi rocksdb <<<"$syms"; then
    echo "the verifier binary contains RocksDB code" >&2; return 1
  fi
}

# Sourced by scripts/run and scripts/test: installs what is missing, and only that.
# Everything comes from the package registries (crates.io, npm, Debian); nothing else is downloaded.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$ROOT/end2end/node_modules/.bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

step() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=
apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

need_wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

need_cargo_leptos() {
  if ! cargo leptos --version >/dev/null 2>&1; then
    step "installing cargo-leptos 0.3.10 (about 17 minutes on 2 cores, once)"
    cargo install cargo-leptos --locked --version 0.3.10
  fi
}

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
need_wasm_bindgen() {
  local want
  want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    step "installing wasm-bindgen-cli $want"
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
}

# Node packages: wasm-opt (npm binaryen; cargo-leptos runs it on release builds) and playwright-core.
need_node_packages() {
  if ! command -v node >/dev/null 2>&1; then
    step "installing Node.js"
    apt_install nodejs npm
  fi
  # Installed again whenever package-lock.json changed since the last install.
  if ! cmp -s end2end/package-lock.json end2end/node_modules/.installed-package-lock.json; then
    step "installing node packages (npm ci)"
    (cd end2end && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.installed-package-lock.json)
  fi
}

need_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    step "installing Debian's chromium"
    apt_install chromium
  fi
}

# PostgreSQL for the integration tests: started when it is not running, with a role that
# may create the fresh databases each test uses.
need_postgres() {
  if ! command -v pg_lsclusters >/dev/null 2>&1; then
    step "installing PostgreSQL"
    apt_install postgresql
  fi
  local cluster
  cluster=$(pg_lsclusters --no-header | head -n 1)
  if [ -z "$cluster" ]; then
    echo "no PostgreSQL cluster exists; create one with pg_createcluster" >&2
    return 1
  fi
  set -- $cluster
  if [ "$4" != "online" ]; then
    step "starting PostgreSQL $1/$2"
    as_root pg_ctlcluster "$1" "$2" start
  fi
  export PGPORT="$3"
  local exists
  exists=$(as_root su postgres -c "psql -p $PGPORT -tAc \"SELECT 1 FROM pg_roles WHERE rolname = 'gatehouse'\"")
  if [ "$exists" != 1 ]; then
    as_root su postgres -c "psql -p $PGPORT -qc \"CREATE ROLE gatehouse LOGIN CREATEDB PASSWORD 'gatehouse'\""
  fi
  export GATEHOUSE_TEST_POSTGRES_URL="postgres://gatehouse:gatehouse@127.0.0.1:$PGPORT/postgres"
}

# A TrueType font for the diagrams' PNG export (resvg reads the system's fonts).
need_fonts() {
  if ! ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf >/dev/null 2>&1 \
     && [ -z "$(find /usr/share/fonts /usr/local/share/fonts -name '*.ttf' -print -quit 2>/dev/null)" ]; then
    step "installing fonts-dejavu-core (for the PNG export of the diagrams)"
    apt_install fonts-dejavu-core
  fi
}

# kubectl renders the deploy/ overlays in the tests (`kubectl kustomize`); Debian's
# kubernetes-client package where none is installed.
need_kubectl() {
  if ! command -v kubectl >/dev/null 2>&1; then
    step "installing kubectl (Debian's kubernetes-client)"
    apt_install kubernetes-client
  fi
}

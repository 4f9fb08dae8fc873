#!/usr/bin/env bash
# Pinned downloads and eryx's cache folder, for every script and test of this repository.
#
#   libs/pinned.sh path NAME         the verified file of pin NAME (libs/pins.txt), downloaded with
#                                    the registry's own client on a cache miss; prints its path
#   libs/pinned.sh field NAME FIELD  one column of pin NAME: client, requirement, file, sha256
#   libs/pinned.sh fetch CLIENT REQUIREMENT SHA256
#                                    the same for a file pinned by the caller (its name is what
#                                    the client gives), e.g. an sdist given on a command line
#   libs/pinned.sh cache-dir [SUB]   eryx's cache folder (or its subfolder SUB), created
#
# The cache folder, shared with eryx-rt and eryx-build: $ERYX_CACHE_DIR, else the user cache
# folder's eryx/ (${XDG_CACHE_HOME:-$HOME/.cache}/eryx). Its subfolders:
#   downloads/<sha256>/<file>   pinned downloads ($ERYX_DOWNLOAD_CACHE moves this folder; eryx-build
#                               keeps its URL wheels there too, as <sha256>.whl)
#   wheels/                     wheels built by the recipes of libs/sdist-wheel
#   venvs/                      build tools (setuptools; Cython and ninja for numpy)
#   components/, ...            eryx-rt's compiled components and snapshots
#
# A download goes into a temporary folder beside its final place and is moved there only when
# its SHA-256 matches: the cache never holds a partial or wrong file under a real name.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pins=$here/pins.txt

die() { echo "error: $*" >&2; exit 1; }

cache_dir() {
  local dir=${ERYX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eryx}
  [ -z "${1:-}" ] || dir=$dir/$1
  mkdir -p "$dir"
  (cd "$dir" && pwd)
}

# pin NAME: sets client, requirement, file, sha256 from the pin's line.
pin() {
  local line
  line=$(awk -v name="$1" '$1 == name && !/^#/ { print; exit }' "$pins")
  [ -n "$line" ] || die "no pin named $1 in libs/pins.txt"
  read -r _ client requirement file sha256 <<< "$line"
}

verified() { echo "$2  $1" | sha256sum --quiet -c - >/dev/null 2>&1; }

# download DIR: runs the pin's client, which leaves the file in DIR.
download() {
  local dir=$1
  local pip=(python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$dir")
  case $client in
    pip-wheel) "${pip[@]}" --only-binary :all: "$requirement" ;;
    pip-sdist) "${pip[@]}" --no-binary :all: "$requirement" ;;
    pip-sdist-pkginfo)
      # `pip download` of an sdist asks the project's build backend for its metadata; this
      # stand-in backend (first on PYTHONPATH, used through --no-build-isolation) answers from the
      # sdist's own PKG-INFO, so nothing is built. It stands in for meson-python (numpy).
      mkdir -p "$dir/.shim/mesonpy"
      cat > "$dir/.shim/mesonpy/__init__.py" <<'EOF'
"""Metadata-only stand-in for a build backend, used only while `pip download` fetches an sdist."""
import os


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    with open("PKG-INFO", "rb") as f:
        pkg_info = f.read()
    fields = dict(line.split(": ", 1) for line in pkg_info.decode().splitlines()[:3] if ": " in line)
    name = f"{fields['Name'].replace('-', '_')}-{fields['Version']}.dist-info"
    os.makedirs(os.path.join(metadata_directory, name))
    with open(os.path.join(metadata_directory, name, "METADATA"), "wb") as f:
        f.write(pkg_info)
    return name


def build_wheel(*args, **kwargs):
    raise RuntimeError("this stand-in only serves metadata")
EOF
      PYTHONPATH=$dir/.shim "${pip[@]}" --no-binary :all: --no-build-isolation "$requirement" ;;
    npm) (cd "$dir" && npm pack --quiet --ignore-scripts "$requirement" >/dev/null) ;;
    *) die "$requirement: client $client has no file to download" ;;
  esac
}

# fetch: the cached, verified file for client, requirement, sha256 and file (`-`: whichever one
# file the client gives).
fetch() {
  [[ $sha256 =~ ^[0-9a-f]{64}$ ]] || die "$requirement: sha256 $sha256 is not 64 lowercase hexadecimal digits"
  local downloads=${ERYX_DOWNLOAD_CACHE:-$(cache_dir downloads)} cached
  for cached in "$downloads/$sha256"/*; do
    if [ -f "$cached" ] && { [ "$file" = - ] || [ "${cached##*/}" = "$file" ]; } && verified "$cached" "$sha256"; then
      echo "$cached"
      return
    fi
  done
  mkdir -p "$downloads"
  tmp=$(mktemp -d "$downloads/.download.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "downloading $requirement ($client)" >&2
  download "$tmp" >&2 || die "$client could not download $requirement"
  if [ "$file" = - ]; then
    local got=("$tmp"/*)
    [ ${#got[@]} -eq 1 ] && [ -f "${got[0]}" ] || die "$client gave no single file for $requirement"
    file=${got[0]##*/}
  fi
  [ -f "$tmp/$file" ] || die "$client did not give $file for $requirement (got: $(ls "$tmp" | tr '\n' ' '))"
  verified "$tmp/$file" "$sha256" ||
    die "$file ($requirement) does not match its pinned sha256 $sha256; it was not kept"
  mkdir -p "$downloads/$sha256"
  mv -f "$tmp/$file" "$downloads/$sha256/$file"
  echo "$downloads/$sha256/$file"
}

case ${1:-} in
  path) [ $# -eq 2 ] || die "usage: libs/pinned.sh path NAME"; pin "$2"; fetch ;;
  fetch)
    [ $# -eq 4 ] || die "usage: libs/pinned.sh fetch CLIENT REQUIREMENT SHA256"
    client=$2 requirement=$3 sha256=${4,,} file=-
    fetch ;;
  field)
    [ $# -eq 3 ] || die "usage: libs/pinned.sh field NAME client|requirement|file|sha256"
    pin "$2"
    case $3 in
      client|requirement|file|sha256) echo "${!3}" ;;
      *) die "unknown field $3 (client, requirement, file, sha256)" ;;
    esac ;;
  cache-dir) cache_dir "${2:-}" ;;
  *) die "usage: libs/pinned.sh path NAME | field NAME FIELD | fetch CLIENT REQUIREMENT SHA256 | cache-dir [SUB]" ;;
esac

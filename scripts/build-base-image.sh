#!/usr/bin/env bash
# Builds the base workspace image `outpost/base` locally, with no image registry: a Debian bookworm
# minbase root filesystem from debootstrap, slimmed, with a `dev` user (uid 1000, home /home/dev,
# passwordless sudo), imported with `docker import`.
#
#   scripts/build-base-image.sh [--force] [--fresh] [--tag NAME] [--mirror URL]
#
#   (no flags)  does nothing when the image exists already
#   --force     imports the image again (from the cached rootfs when there is one)
#   --fresh     also runs debootstrap again instead of using the cached rootfs
#   --tag NAME  image name (default outpost/base)
#   --mirror U  Debian mirror (default http://deb.debian.org/debian)
#
# The rootfs tarball is cached in /var/cache/outpost (OUTPOST_IMAGE_CACHE overrides), keyed by the
# suite and package list, so a re-import takes seconds instead of the ~40-60 s of debootstrap.
# Needs root, debootstrap and a running Docker engine.
set -euo pipefail

TAG=outpost/base
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
FORCE=0
FRESH=0
CACHE_DIR=${OUTPOST_IMAGE_CACHE:-/var/cache/outpost}
PACKAGES=bash,ca-certificates,curl,git,openssh-client,openssh-sftp-server,rsync,procps,sudo,less,nano

while [ $# -gt 0 ]; do
  case "$1" in
    --force) FORCE=1 ;;
    --fresh) FORCE=1; FRESH=1 ;;
    --tag) TAG=${2:?--tag needs a name}; shift ;;
    --mirror) MIRROR=${2:?--mirror needs a URL}; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

START=$(date +%s)
step() { printf '[build-base-image %3ss] %s\n' "$(( $(date +%s) - START ))" "$*"; }
die() { echo "build-base-image: $*" >&2; exit 1; }

command -v docker >/dev/null || die "docker is not installed (apt-get install docker.io)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "the Docker engine is not reachable (start dockerd, or set DOCKER_HOST)"

KEY=$(printf '%s %s %s v2' "$SUITE" "$PACKAGES" "$MIRROR" | sha256sum | cut -c1-12)
# The image records its key: a change of packages (or suite, mirror) rebuilds it.
current() { docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$TAG" 2>/dev/null; }

if [ "$FORCE" = 0 ] && [ "$(current)" = "$SUITE-$KEY" ]; then
  step "$TAG already exists ($(docker image inspect -f '{{.Id}}' "$TAG" | cut -c1-19)); use --force to rebuild"
  exit 0
fi
TARBALL="$CACHE_DIR/base-rootfs-$SUITE-$KEY.tar"
mkdir -p "$CACHE_DIR"

# One build at a time (tests and a person may start this together).
exec 9>"$CACHE_DIR/.build-base-image.lock"
if ! flock -n 9; then
  step "another build is running; waiting for it"
  flock 9
  if [ "$FORCE" = 0 ] && [ "$(current)" = "$SUITE-$KEY" ]; then step "$TAG was built meanwhile"; exit 0; fi
fi

ROOTFS=
cleanup() {
  if [ -n "$ROOTFS" ] && [ -d "$ROOTFS" ]; then
    # debootstrap mounts proc and sys in the target while it runs: never delete through a mount.
    for m in $(awk -v d="$ROOTFS" '$2 ~ "^"d {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
    if awk -v d="$ROOTFS" '$2 ~ "^"d {found=1} END {exit !found}' /proc/mounts; then
      echo "build-base-image: $ROOTFS still has mounts; not removing it" >&2
    else
      rm -rf --one-file-system "$ROOTFS"
    fi
  fi
  rm -f "$TARBALL.tmp"
}
trap cleanup EXIT

if [ "$FRESH" = 1 ] || [ ! -s "$TARBALL" ]; then
  [ "$(id -u)" = 0 ] || die "debootstrap needs root"
  command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
  ROOTFS=$(mktemp -d /var/tmp/outpost-rootfs.XXXXXX)
  step "debootstrap $SUITE (minbase + $PACKAGES) from $MIRROR into $ROOTFS"
  LOG="$CACHE_DIR/debootstrap.log"
  set +e
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" 2>&1 | tee "$LOG" \
    | awk '/^I: Retrieving /{r++; if (r % 25 == 1) {print "    retrieving packages (" r ")"; fflush()}; next}
           /^I: (Installing|Configuring required|Configuring base|Base system|Checking)/{print "    " $0; fflush()}
           /^[EW]: /{print "    " $0; fflush()}'
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" = 0 ] || { tail -n 20 "$LOG" >&2; die "debootstrap failed (exit $rc); full log in $LOG"; }
  [ -x "$ROOTFS/bin/bash" ] && [ -x "$ROOTFS/usr/bin/git" ] || die "debootstrap did not produce a usable system; see $LOG"

  step "slimming: apt lists and caches, docs, man pages, locales"
  rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/lintian \
    "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/* "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/lib/dpkg/*-old
  find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'C' ! -name 'C.*' ! -name 'locale.alias' -exec rm -rf {} +
  # Keep later `apt-get install`s in workspaces slim too (as Debian's slim images do).
  mkdir -p "$ROOTFS/etc/dpkg/dpkg.cfg.d"
  cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/01-outpost-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  echo 'APT::Install-Recommends "false";' >"$ROOTFS/etc/apt/apt.conf.d/01-outpost-norecommends"
  : >"$ROOTFS/etc/hostname"

  step "adding user dev (uid 1000, /home/dev, passwordless sudo)"
  grep -q '^dev:' "$ROOTFS/etc/passwd" || echo 'dev:x:1000:1000:Outpost developer:/home/dev:/bin/bash' >>"$ROOTFS/etc/passwd"
  grep -q '^dev:' "$ROOTFS/etc/group" || echo 'dev:x:1000:' >>"$ROOTFS/etc/group"
  grep -q '^dev:' "$ROOTFS/etc/shadow" || echo 'dev:*:19000:0:99999:7:::' >>"$ROOTFS/etc/shadow"
  [ -f "$ROOTFS/etc/gshadow" ] && { grep -q '^dev:' "$ROOTFS/etc/gshadow" || echo 'dev:!::' >>"$ROOTFS/etc/gshadow"; }
  sed -i -E '/^sudo:/ { /[:,]dev(,|$)/! { s/:$/:dev/; t; s/$/,dev/ } }' "$ROOTFS/etc/group"
  mkdir -p "$ROOTFS/home/dev"
  cp -a "$ROOTFS/etc/skel/." "$ROOTFS/home/dev/" 2>/dev/null || true
  chown -R 1000:1000 "$ROOTFS/home/dev"
  chmod 0755 "$ROOTFS/home/dev"
  echo 'dev ALL=(ALL) NOPASSWD:ALL' >"$ROOTFS/etc/sudoers.d/dev"
  chmod 0440 "$ROOTFS/etc/sudoers.d/dev"

  step "packing the root filesystem into $TARBALL"
  tar -C "$ROOTFS" --numeric-owner -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  step "rootfs $(du -sh "$ROOTFS" | cut -f1), tarball $(du -h "$TARBALL" | cut -f1)"
else
  step "using the cached root filesystem $TARBALL (--fresh to debootstrap again)"
fi

step "importing $TAG"
OLD=$(docker image inspect -f '{{.Id}}' "$TAG" 2>/dev/null || true)
ID=$(docker import \
  --change 'CMD ["/bin/bash"]' \
  --change 'ENV LANG=C.UTF-8' \
  --change "LABEL org.opencontainers.image.title=outpost-base org.opencontainers.image.version=$SUITE-$KEY" \
  "$TARBALL" "$TAG")
# The image this one replaces, unless a container still uses it.
if [ -n "$OLD" ] && [ "$OLD" != "$ID" ]; then docker rmi "$OLD" >/dev/null 2>&1 || true; fi
step "done: $TAG ${ID:0:19}, $(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%d MB", $1/1000/1000}'), $(( $(date +%s) - START )) s"

# Sourced by build.sh and test.sh: install_missing COMMAND:PACKAGES ... installs Debian's PACKAGES
# (space-separated) with apt-get, as root or with sudo, for each COMMAND that is not on the PATH.
install_missing() {
  local wanted missing=()
  for wanted in "$@"; do
    command -v "${wanted%%:*}" >/dev/null 2>&1 || read -r -a missing <<<"${missing[*]} ${wanted#*:}"
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "Installing Debian's ${missing[*]} ..."
  local sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
}

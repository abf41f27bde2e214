# On erase (not upgrade): stop and disable enrolld.
if [ "$1" -eq 0 ]; then
  systemctl --no-reload disable --now enrolld.service >/dev/null 2>&1 || :
fi

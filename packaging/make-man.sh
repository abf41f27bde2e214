#!/usr/bin/env bash
# Writes a man page from a program's own --help (help2man), with a section that holds the
# --help of each of its subcommands (found in the "Subcommands:" lists of CLI11's help, at
# every depth), so the page says everything --help says and cannot miss a new subcommand.
#   make-man.sh PROGRAM SECTION "DESCRIPTION" VERSION OUT
set -euo pipefail
program="$1" section="$2" description="$3" version="$4" out="$5"
include="$(mktemp)"
trap 'rm -f "$include"' EXIT

# The subcommands listed in the help of `program WORDS...`, one per line.
subcommands_of() {
  "$program" "$@" --help | awk '/^Subcommands:/ { listing = 1; next } listing && /^  [a-z]/ { print $1 }'
}

# Every subcommand path below WORDS..., depth first, as space-separated words.
all_subcommands() {
  local name
  for name in $(subcommands_of "$@"); do
    echo "$* $name" | sed 's/^ //'
    all_subcommands "$@" "$name"
  done
}
mapfile -t subcommands < <(all_subcommands)
{
  echo "[FILES]"
  echo "/etc/enrolld/enrolld.conf (the configuration, commented with every key and its default, and the first-run steps),"
  echo "/var/lib/enrolld (the store, CA certificates, PIN files),"
  echo "/usr/share/doc/enrolld/examples/profiles.example.toml (certificate profiles)."
  if ((${#subcommands[@]} > 0)); then
    echo "[SUBCOMMANDS]"
    for subcommand in "${subcommands[@]}"; do
      echo ".SS $subcommand"
      echo ".nf"
      # shellcheck disable=SC2086  # the words of a subcommand are separate arguments
      "$program" $subcommand --help | sed -e 's/\\/\\\\/g' -e 's/^\./\\\&./'
      echo ".fi"
    done
  fi
} > "$include"
help2man --no-info --section="$section" --name="$description" --include="$include" \
  --version-string="$version" "$program" > "$out.tmp"
# help2man names the program by the path it ran; the page is for the installed name.
sed -i "s|$(dirname "$program")/||g" "$out.tmp"
mv "$out.tmp" "$out"

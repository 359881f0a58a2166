#!/bin/sh
# filelist.sh BUILDROOT: the %files list of everything under BUILDROOT except
# /etc and /var (each spec lists those itself, with %config and %attr).
# Files and links are listed one by one; a directory is listed (%dir) unless it
# is a shared system directory that no single package owns.
set -eu
root=$1
cd "$root"
shared='^/(usr|usr/bin|usr/sbin|usr/lib|usr/lib64|usr/libexec|usr/share|usr/share/doc|usr/share/doc/packages|usr/share/licenses|usr/share/man|usr/share/man/man[0-9]|usr/lib/systemd|usr/lib/systemd/system|usr/lib/systemd/system-preset|usr/lib/tmpfiles.d|usr/lib/sysusers.d|usr/lib/x86_64-linux-gnu)$'
find . -mindepth 1 \( -path ./etc -o -path ./var \) -prune -o -print | sed 's|^\.||' | LC_ALL=C sort |
while IFS= read -r path; do
  # rpm reads file names in %files as globs: escape the glob characters.
  quoted=$(printf '%s' "$path" | sed 's/[][*?]/\\&/g')
  if [ -d ".$path" ] && [ ! -L ".$path" ]; then
    printf '%s\n' "$path" | grep -Eq "$shared" || printf '%%dir "%s"\n' "$quoted"
  else
    printf '"%s"\n' "$quoted"
  fi
done

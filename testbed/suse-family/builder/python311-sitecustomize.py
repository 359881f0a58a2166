# SUSE-family test host (not SUSE): python311's site directory.
# SUSE's python311 keeps its packages in its own site-packages
# (python311.spec: "%define sitedir %{_libdir}/python%{python_version}");
# Debian's build looks in /usr/lib/python3/dist-packages, which on this host
# belongs to Debian's Python 3.13. (site.py itself is frozen into the binary in
# Python 3.11, so the path is corrected here, where site imports sitecustomize.)
import site
import sys

_debian_shared = "/usr/lib/python3/dist-packages"
_own = f"/usr/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
if _debian_shared in sys.path:
    sys.path.remove(_debian_shared)
if sys.prefix == sys.base_prefix and _own not in sys.path:
    site.addsitedir(_own)
del _debian_shared, _own

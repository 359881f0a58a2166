"""Ansible's linear strategy run by Mitogen (the `mitogen` package, requirements.txt).

Mitogen keeps one Python interpreter per host for the whole run and sends each module to it,
instead of a new `docker exec`/ssh session and Python start per task: a converge with nothing
to change takes about a third of the first converge instead of half (bench/README.md). The
kit's ansible.cfg selects it; a run with `ANSIBLE_STRATEGY=linear` goes without it. Ansible
loads strategies from a directory, and Mitogen's sits inside the installed package (a path
with the Python version in it), so this file names it.
"""

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]

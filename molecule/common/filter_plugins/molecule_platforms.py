"""Filters for molecule/common/create.yml: a molecule platform as the commands that create it.

A platform with a ``command`` is a plain container running that command (the SUSE-family
repository server). Every other platform is a systemd test host, created by
``testbed/systemd-host NAME IMAGE [docker run options ...]``, the one place that holds the
flags systemd needs in a container; the platform adds only what is particular to it.
"""

import shlex

from ansible.errors import AnsibleFilterError

# The molecule platform keys create.yml translates. Anything else fails the create step
# instead of being dropped silently. capabilities, security_opts, cgroupns_mode, tmpfs and
# a /sys/fs/cgroup volume are testbed/systemd-host's business, not a platform's.
SUPPORTED_KEYS = {"name", "image", "hostname", "groups", "pre_build_image", "dockerfile", "command", "networks"}


def check_platform(platform):
    unknown = sorted(set(platform) - SUPPORTED_KEYS)
    if unknown:
        raise AnsibleFilterError(
            f"platform {platform.get('name')}: molecule/common/create.yml does not translate {', '.join(unknown)}"
            " (the systemd flags come from testbed/systemd-host; other keys need a line in"
            " molecule/common/filter_plugins/molecule_platforms.py)"
        )


def image_of(platform):
    """The image to run: the platform's own, or the one create.yml built from its Dockerfile."""
    return platform["image"] if platform.get("pre_build_image", False) else f"molecule_local/{platform['image']}"


def run_options(platform, labels):
    """docker run options for what the platform says (not the systemd flags)."""
    options = ["--hostname", platform.get("hostname", platform["name"])]
    for key, value in labels.items():
        options += ["--label", f"{key}={value}"]
    networks = platform.get("networks", [])
    if networks:
        # docker 20.10 takes one --network at creation; create.yml connects the others.
        options += ["--network", networks[0]["name"], *network_options(networks[0], "--network-alias", "--ip")]
    return options


def network_options(network, alias_flag, ip_flag):
    options = []
    for alias in network.get("aliases", []):
        options += [alias_flag, alias]
    if "ipv4_address" in network:
        options += [ip_flag, network["ipv4_address"]]
    return options


def create_commands(platform, systemd_host, labels):
    """The commands that create the platform's container and attach it to its networks."""
    check_platform(platform)
    name, image = platform["name"], image_of(platform)
    options = run_options(platform, labels)
    if "command" in platform:
        commands = [["docker", "run", "-d", "--name", name, *options, image, *shlex.split(platform["command"])]]
    else:
        commands = [[systemd_host, name, image, *options]]
    for network in platform.get("networks", [])[1:]:
        commands.append(
            ["docker", "network", "connect", *network_options(network, "--alias", "--ip"), network["name"], name]
        )
    return commands


def create_plan(container_info_results, systemd_host, labels):
    """What create.yml runs, one {name, commands} per platform, from docker_container_info's results.

    Missing containers are created; stopped ones started; running ones left alone.
    """
    plan = []
    for result in container_info_results:
        platform = result["item"]
        if not result["exists"]:
            commands = create_commands(platform, systemd_host, labels)
        elif not result["container"]["State"]["Running"]:
            check_platform(platform)
            commands = [["docker", "start", platform["name"]]]
        else:
            check_platform(platform)
            commands = []
        plan.append({"name": platform["name"], "commands": commands})
    return plan


class FilterModule:
    def filters(self):
        return {"molecule_create_plan": create_plan}

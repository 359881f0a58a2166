"""Two SUSE-family hosts clustered from SUSE's own packages (rabbit@localhost, loopback epmd)."""

import json

from kit_testing import journal_text

BROKERS = ["sles-1", "sles-2"]


def test_each_node_runs_under_its_own_name_not_susees_localhost(host):
    name = host.check_output("hostname -s")
    env = host.file("/etc/rabbitmq/rabbitmq-env.conf").content_string
    assert f"NODENAME=rabbit@{name}" in env.splitlines()
    assert "rabbit@localhost" not in env


def test_the_nodes_form_one_cluster(host):
    status = json.loads(host.check_output("rabbitmqctl cluster_status --formatter json"))
    assert sorted(status["running_nodes"]) == [f"rabbit@{name}" for name in BROKERS]


def test_epmd_listens_where_the_other_node_reaches_it(host):
    drop_in = host.file("/etc/systemd/system/epmd.socket.d/cluster.conf").content_string
    assert "ListenStream=0.0.0.0:4369" in drop_in.splitlines()
    listening = host.check_output("ss -Hltn 'sport = :4369'")
    assert "0.0.0.0:4369" in listening
    assert "127.0.0.1:4369" not in listening


def test_worker_queues_are_quorum_queues_on_both_nodes(host):
    rows = json.loads(host.check_output("rabbitmqctl list_queues name type members --formatter json"))
    queue = next(row for row in rows if row["name"] == "order.events")
    assert queue["type"] == "quorum"
    assert sorted(queue["members"]) == [f"rabbit@{name}" for name in BROKERS]


def test_a_cli_on_either_node_lists_every_queue_through_the_firewall(host):
    """The other node answers the CLI tool's own Erlang node (35672-35682) through firewalld."""
    assert host.service("firewalld").is_running
    rows = json.loads(host.check_output("rabbitmqctl list_queues name --timeout 60 --formatter json"))
    assert {"order.events", "whatsapp.notifications"} <= {row["name"] for row in rows}


def test_the_cookie_and_the_admin_password_are_on_no_command_line_and_in_no_log(host):
    variables = host.ansible.get_variables()
    secrets = {
        "Erlang cookie": variables["rabbitmq_server_erlang_cookie"],
        "admin password": variables["rabbitmq_server_admin_password"],
    }
    cmdlines = host.run("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '").stdout
    assert "beam.smp" in cmdlines
    journal = journal_text(host)
    for name, value in secrets.items():
        assert value not in cmdlines, f"the {name} is on a command line"
        assert value not in journal, f"the {name} is in the journal"

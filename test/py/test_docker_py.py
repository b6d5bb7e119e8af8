"""docker-py (Debian's python3-docker) against the engine in DOCKER_HOST: Berth in CI (test/integration/docker-py.test.ts
starts one), or Debian's Docker to prove the tests check Docker's behaviour. Everything made carries the label
berth.test=compat and is removed afterwards, whatever happens."""
import os
import secrets
import time

import docker
import pytest

LABEL = {"berth.test": "compat"}


@pytest.fixture(scope="module")
def client():
    c = docker.from_env(version="auto", timeout=60)
    yield c
    for ctr in c.containers.list(all=True, filters={"label": "berth.test=compat"}):
        ctr.remove(force=True, v=True)
    for vol in c.volumes.list(filters={"label": "berth.test=compat"}):
        vol.remove(force=True)
    c.close()


def name(suffix):
    return f"pyfid-{suffix}-{os.getpid()}"


def test_ping_version_info(client):
    assert client.ping() is True
    assert client.version()["ApiVersion"]
    info = client.info()
    assert info["ID"]
    assert "127.0.0.0/8" in info["RegistryConfig"]["InsecureRegistryCIDRs"]


def test_run_wait_logs(client):
    ctr = client.containers.run("busybox", ["sh", "-c", "echo hello; exit 3"], detach=True, labels=LABEL, name=name("run"))
    assert ctr.wait(timeout=30)["StatusCode"] == 3
    assert ctr.logs() == b"hello\n"
    ctr.remove()


def test_run_attached_output(client):
    out = client.containers.run("busybox", ["echo", "attached"], remove=True, labels=LABEL)
    assert out == b"attached\n"


def test_exec_run_reports_the_exit_code(client):
    ctr = client.containers.run("busybox", ["sleep", "300"], detach=True, labels=LABEL, name=name("exec"))
    try:
        code, output = ctr.exec_run(["sh", "-c", "echo in; exit 4"])
        assert code == 4
        assert output == b"in\n"
    finally:
        ctr.remove(force=True)


def test_wait_returns_when_a_restart_policy_restarts(client):
    ctr = client.containers.run("busybox", ["sh", "-c", "sleep 0.3; exit 2"], detach=True, labels=LABEL,
                                name=name("restart"), restart_policy={"Name": "always"})
    try:
        assert ctr.wait(timeout=20)["StatusCode"] == 2
    finally:
        ctr.remove(force=True)


def test_swarm_leave_outside_a_swarm_is_503(client):
    # docker-py's tear-down path: with force it tolerates exactly the 503 (or 406) a node in no swarm answers
    assert client.api.leave_swarm(force=True) is True
    with pytest.raises(docker.errors.APIError) as err:
        client.api.leave_swarm()
    assert err.value.response.status_code == 503
    assert "not part of a swarm" in str(err.value)


def test_swarm_listings_need_a_manager(client):
    with pytest.raises(docker.errors.APIError) as err:
        client.nodes.list()
    assert err.value.response.status_code == 503
    assert "This node is not a swarm manager" in str(err.value)


def test_no_plugins(client):
    assert client.plugins.list() == []
    with pytest.raises(docker.errors.NotFound):
        client.plugins.get("nosuch")


def test_df_counts_a_container_and_its_volume(client):
    vol = client.volumes.create(name=name("dfvol"), labels=LABEL)
    ctr = client.containers.run("busybox", ["sh", "-c", "head -c 70000 /dev/zero > /data/f"], detach=True, labels=LABEL,
                                name=name("df"), volumes={vol.name: {"bind": "/data", "mode": "rw"}})
    try:
        assert ctr.wait(timeout=30)["StatusCode"] == 0
        df = client.df()
        assert df["LayersSize"] > 0
        mine = [c for c in df["Containers"] if c["Names"] == ["/" + name("df")]]
        assert len(mine) == 1
        vols = [v for v in df["Volumes"] if v["Name"] == vol.name]
        assert vols[0]["UsageData"]["RefCount"] == 1
        assert vols[0]["UsageData"]["Size"] >= 70000
    finally:
        ctr.remove(force=True)
        vol.remove(force=True)


def test_events_listener_is_counted(client):
    before = client.info()["NEventsListener"]
    events = client.events(decode=True)
    try:
        deadline = time.time() + 5
        while client.info()["NEventsListener"] != before + 1 and time.time() < deadline:
            time.sleep(0.05)
        assert client.info()["NEventsListener"] == before + 1
    finally:
        events.close()


def test_links_env_and_remove_link(client):
    # docker-py's own link tests: variables of a legacy link, then remove_container(link=True) drops the link name
    db = client.containers.run("busybox", ["sleep", "300"], detach=True, labels=LABEL, name=name("linkdb"),
                               environment={"FOO": "bar"})
    try:
        parent = client.api.create_container("busybox", ["sleep", "300"], labels=LABEL, name=name("linkparent"),
                                             host_config=client.api.create_host_config(links={db.name: "mylink"}))
        client.api.start(parent["Id"])
        env = client.api.exec_start(client.api.exec_create(parent["Id"], ["env"])["Id"])
        assert f"MYLINK_NAME=/{name('linkparent')}/mylink".encode() in env
        assert b"MYLINK_ENV_FOO=bar" in env
        link_name = f"{name('linkparent')}/mylink"
        assert any("/" + link_name in c["Names"] for c in client.api.containers(all=True))
        client.api.remove_container(link_name, link=True)
        containers = client.api.containers(all=True)
        assert not any("/" + link_name in c["Names"] for c in containers)
        assert len([c for c in containers if c["Id"] in (db.id, parent["Id"])]) == 2
    finally:
        db.remove(force=True)


def test_load_of_a_bad_archive_is_an_image_load_error(client):
    # docker answers 200 and reports the refusal in the stream, which docker-py raises as ImageLoadError
    with pytest.raises(docker.errors.ImageLoadError):
        client.images.load(b"not a tar archive" * 64)


def test_exec_socket_mode_and_tty(client):
    ctr = client.containers.run("busybox", ["sleep", "300"], detach=True, labels=LABEL, name=name("execsock"))
    try:
        # exec_start(socket=True): the raw hijacked socket, multiplexed without a TTY
        ex = client.api.exec_create(ctr.id, ["sh", "-c", "echo hi; exit 3"])
        sock = client.api.exec_start(ex["Id"], socket=True)
        raw = sock._sock if hasattr(sock, "_sock") else sock
        data = b""
        while True:
            chunk = raw.recv(4096)
            if not chunk:
                break
            data += chunk
        sock.close()
        assert data == b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"
        assert client.api.exec_inspect(ex["Id"])["ExitCode"] == 3
        # with a TTY: one raw stream (CRLF from the terminal) and the exit code
        assert tuple(ctr.exec_run(["sh", "-c", "echo a; echo b >&2; exit 5"], tty=True)) == (5, b"a\r\nb\r\n")
        assert tuple(ctr.exec_run(["sh", "-c", "echo a; exit 5"], demux=True)) == (5, (b"a\n", None))
    finally:
        ctr.remove(force=True)


def test_mac_address(client):
    mac = "02:42:0a:fa:00:99"
    ctr = client.containers.run("busybox", ["sh", "-c", "cat /sys/class/net/eth0/address; sleep 300"], detach=True,
                                labels=LABEL, name=name("mac"), mac_address=mac)
    try:
        deadline = time.time() + 10
        while ctr.logs() == b"" and time.time() < deadline:
            time.sleep(0.1)
        assert ctr.logs() == (mac + "\n").encode()
        ctr.reload()
        assert ctr.attrs["NetworkSettings"]["MacAddress"] == mac
    finally:
        ctr.remove(force=True)


def test_ipv6_dual_stack_network(client):
    # a ULA /64 and an IPv4 /24 made up for this run
    g = [0xFD00 | secrets.randbelow(256)] + [secrets.randbelow(0xFF00) + 0x100 for _ in range(3)]
    p6 = ":".join(f"{x:x}" for x in g)
    p4 = f"10.{190 + secrets.randbelow(10)}.{secrets.randbelow(256)}"
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=f"{p4}.0/24"), docker.types.IPAMPool(subnet=f"{p6}::/64")])
    net = client.networks.create(name("v6"), driver="bridge", enable_ipv6=True, ipam=ipam, labels=LABEL)
    try:
        net.reload()
        assert net.attrs["EnableIPv6"] is True
        assert [c["Subnet"] for c in net.attrs["IPAM"]["Config"]] == [f"{p4}.0/24", f"{p6}::/64"]
        ctr = client.containers.run("busybox", ["sleep", "300"], detach=True, labels=LABEL, name=name("v6c"), network=net.name)
        try:
            ctr.reload()
            ep = ctr.attrs["NetworkSettings"]["Networks"][net.name]
            assert (ep["GlobalIPv6Address"], ep["GlobalIPv6PrefixLen"], ep["IPv6Gateway"]) == (f"{p6}::2", 64, f"{p6}::1")
            other = client.containers.run("busybox", ["sleep", "300"], detach=True, labels=LABEL, name=name("v6d"))
            try:
                net.connect(other, ipv6_address=f"{p6}::99")
                other.reload()
                assert other.attrs["NetworkSettings"]["Networks"][net.name]["GlobalIPv6Address"] == f"{p6}::99"
                code, _ = other.exec_run(["ping", "-6", "-c1", "-W5", f"{p6}::2"])
                assert code == 0
            finally:
                other.remove(force=True)
        finally:
            ctr.remove(force=True)
    finally:
        net.remove()

"""LocalPostgres: a real server in a state folder, TLS-only TCP on 127.0.0.1 with SCRAM,
a private unix socket for the superuser, and a restart that keeps data and port."""
import ipaddress
import os
import stat
import tempfile
from pathlib import Path

import psycopg2
import pytest
from cryptography import x509

from fargate_platform.local.postgres import LocalPostgres, LocalPostgresError


def tls_connect(server, user, password, dbname="postgres", host=None, sslmode="verify-full", ca=None):
    return psycopg2.connect(
        host=host or server.host, port=server.port, user=user, password=password, dbname=dbname,
        sslmode=sslmode, sslrootcert=ca or server.ca_cert_path, connect_timeout=5,
    )


def test_restart_keeps_data_and_port():
    state = Path(tempfile.mkdtemp(prefix="fp-test-pg-life-"))
    server = LocalPostgres(state)
    try:
        assert not server.is_running
        server.start()
        assert server.is_running
        port = server.port
        server.set_login("keeper", "Keeper-Pass-1")
        conn = server.connect_admin()
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE kept (id int)")
            cur.execute("INSERT INTO kept VALUES (42)")
        conn.close()
        server.stop()
        assert not server.is_running
        server.stop()  # stopping a stopped server is fine

        again = LocalPostgres(state).start()  # a new object over the same folder
        assert again.is_running and again.port == port
        assert again.start() is again  # starting a running server is a no-op
        with tls_connect(again, "keeper", "Keeper-Pass-1") as conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM kept")
            assert cur.fetchone() == (42,)
        conn.close()
        again.stop()
    finally:
        LocalPostgres(state).remove()


def test_tls_verify_full_with_the_throwaway_ca(local_postgres):
    local_postgres.set_login("tls_user", "Tls-User-Pass-1")
    for host in ("127.0.0.1", "localhost"):
        conn = tls_connect(local_postgres, "tls_user", "Tls-User-Pass-1", host=host)
        with conn.cursor() as cur:
            cur.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            ssl, version = cur.fetchone()
        conn.close()
        assert ssl is True and version in ("TLSv1.2", "TLSv1.3")


def test_tcp_without_tls_or_with_a_wrong_password_is_refused(local_postgres):
    local_postgres.set_login("tls_only", "Tls-Only-Pass-1")
    with pytest.raises(psycopg2.OperationalError, match="no encryption"):
        tls_connect(local_postgres, "tls_only", "Tls-Only-Pass-1", sslmode="disable")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        tls_connect(local_postgres, "tls_only", "wrong")


def test_a_wrong_ca_fails_verification(local_postgres, tmp_path):
    import datetime

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the local CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    other_ca = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    wrong = tmp_path / "wrong-ca.pem"
    wrong.write_bytes(other_ca.public_bytes(serialization.Encoding.PEM))
    local_postgres.set_login("ca_user", "Ca-User-Pass-1")
    with pytest.raises(psycopg2.OperationalError, match="certificate verify failed"):
        tls_connect(local_postgres, "ca_user", "Ca-User-Pass-1", ca=str(wrong))


def test_server_certificate_names_loopback(local_postgres):
    certificate = x509.load_pem_x509_certificate((local_postgres.server_dir / "tls" / "server.crt").read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    ca = x509.load_pem_x509_certificate(Path(local_postgres.ca_cert_path).read_bytes())
    assert certificate.issuer == ca.subject
    for folder in (local_postgres.state_dir, local_postgres.server_dir):
        assert not list(folder.rglob("ca.key"))  # the CA's key was never written


def test_listens_on_loopback_only_with_a_private_socket(local_postgres):
    conn = local_postgres.connect_admin()
    with conn.cursor() as cur:
        settings = {}
        for name in ("listen_addresses", "fsync", "ssl", "password_encryption", "is_superuser"):
            cur.execute(f"SHOW {name}")
            settings[name] = cur.fetchone()[0]
    conn.close()
    assert settings == {"listen_addresses": "127.0.0.1", "fsync": "off", "ssl": "on",
                        "password_encryption": "scram-sha-256", "is_superuser": "on"}
    socket_dir = local_postgres.server_dir / "socket"
    assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700


def test_set_login_creates_and_alters_roles(local_postgres):
    local_postgres.set_login("rds_like", "First-Pass-1", superuser=False)
    local_postgres.set_login("rds_like", "Second-Pass-2", superuser=False)
    with pytest.raises(psycopg2.OperationalError):
        tls_connect(local_postgres, "rds_like", "First-Pass-1")
    conn = tls_connect(local_postgres, "rds_like", "Second-Pass-2")
    with conn.cursor() as cur:
        cur.execute("SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone() == (False, True, True)
    conn.close()
    local_postgres.set_login("rds_like", "Second-Pass-2", superuser=True)
    conn = tls_connect(local_postgres, "rds_like", "Second-Pass-2")
    with conn.cursor() as cur:
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone() == (True,)
    conn.close()


@pytest.mark.parametrize("username", ["", "Robert'); DROP TABLE students;--", "x" * 64, "a b", None])
def test_set_login_refuses_bad_role_names(local_postgres, username):
    with pytest.raises(LocalPostgresError, match="invalid role name"):
        local_postgres.set_login(username, "Some-Pass-1")


def test_set_login_refuses_an_empty_password(local_postgres):
    with pytest.raises(LocalPostgresError, match="invalid password"):
        local_postgres.set_login("someone", "")


def test_a_state_folder_inside_a_private_folder_works_and_remove_leaves_nothing(tmp_path):
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    os.chmod(private, 0o700)  # a home folder: the postgres OS user cannot enter it
    server = LocalPostgres(private / "project" / ".local" / "postgres")
    try:
        server.start()
        assert server.is_running
        assert stat.S_IMODE(private.stat().st_mode) == 0o700  # not loosened
        assert Path(server.ca_cert_path).parent == server.state_dir  # where the config names it
        if os.geteuid() == 0:  # the server runs as postgres: its files are in its own folder
            assert server.server_dir.owner() == "postgres"
            assert private not in server.server_dir.parents
            assert (server.server_dir / "owner").read_text().strip() == str(server.state_dir)
        else:
            assert server.server_dir == server.state_dir
        server.set_login("private_user", "Private-Pass-1")
        tls_connect(server, "private_user", "Private-Pass-1").close()
    finally:
        server.remove()
    assert not server.is_running
    assert not server.server_dir.exists() and not server.state_dir.exists()


def test_a_pg_bin_dir_without_the_server_programs_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PG_BIN_DIR", str(tmp_path))
    server = LocalPostgres(tmp_path / "state")
    with pytest.raises(LocalPostgresError, match=r"PG_BIN_DIR=.* holds no pg_ctl"):
        server.start()
    assert not server.state_dir.exists() and not server.server_dir.exists()  # nothing made


def test_port_before_start_is_a_clear_error(tmp_path):
    with pytest.raises(LocalPostgresError, match="has not been started"):
        LocalPostgres(tmp_path / "never").port

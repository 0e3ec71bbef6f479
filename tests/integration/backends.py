"""backends.py -- real replicas for health-check tests: nginx (HTTP and
HTTPS) and Dovecot (POP3, IMAP, their TLS ports, and the submission
service for SMTP), from Debian's packages, on 127.x addresses the test
chooses, each in its own directory and stopped by pid."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

from harness import need, stop_process


def replica_env():
    """The environment for a replica: ours without MALLOC_PERTURB_, which
    meson test sets for the programs under test (the replicas are not):
    Dovecot runs its logins markedly slower with it, and they then miss
    the monitors' 250 ms timeouts on a loaded machine."""
    return {k: v for k, v in os.environ.items() if k != "MALLOC_PERTURB_"}


def wait_port(addr, port, up=True, timeout=10.0):
    """Wait until addr:port accepts TCP connections (or, up=False, until
    it refuses them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((addr, port), timeout=0.2):
                if up:
                    return True
        except OSError:
            if not up:
                return True
        time.sleep(0.05)
    raise RuntimeError(f"{addr}:{port} did not go {'up' if up else 'down'}")


def self_signed(directory):
    """A throw-away P-256 certificate for the TLS replicas."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=replica.example.test", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


class Nginx:
    """One nginx: GET /health says "healthy" (200), /sick is a 503."""

    def __init__(self, addr, port, tls=False):
        need("nginx", "openssl")
        self.addr, self.port, self.tls = addr, port, tls
        self.dir = tempfile.mkdtemp(prefix="carousel-nginx-")
        self.proc = None
        ssl = ""
        if tls:
            cert, key = self_signed(self.dir)
            ssl = f" ssl;\n    ssl_certificate {cert};\n    ssl_certificate_key {key}"
        d = self.dir
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(f"""daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen {f"[{addr}]" if ":" in addr else addr}:{port}{ssl};
    location /health {{ return 200 "healthy\\n"; }}
    location /sick {{ return 503 "sick\\n"; }}
  }}
}}
""")

    def start(self):
        self.proc = subprocess.Popen(["nginx", "-c", os.path.join(self.dir, "nginx.conf"),
                                      "-p", self.dir], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=replica_env())
        wait_port(self.addr, self.port)
        return self

    def stop(self):
        stop_process(self.proc)
        self.proc = None
        wait_port(self.addr, self.port, up=False)

    def close(self):
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class Dovecot:
    """One Dovecot on addr: POP3, IMAP, POP3S, IMAPS and submission (SMTP),
    with one user from a passwd-file. Failed logins answer at once
    (auth_failure_delay 0, no anvil auth penalty): a wrong password is a
    quick verdict, and does not slow the good logins from the same IP.
    Login processes stay up and serve every connection (service_count 0,
    Dovecot's high-performance mode): a check every 300 ms does not pay a
    fork and exec each, which on a loaded machine ran past the monitors'
    250 ms timeouts."""

    def __init__(self, addr, ports, user="carol", password="s3cret"):
        need("dovecot", "openssl")
        self.addr, self.ports = addr, ports
        self.dir = tempfile.mkdtemp(prefix="carousel-dovecot-")
        os.chmod(self.dir, 0o755)  # the auth process (user dovecot) reads passwd here
        self.proc = None
        d = self.dir
        cert, key = self_signed(d)
        os.makedirs(os.path.join(d, "home"))
        os.chmod(os.path.join(d, "home"), 0o1777)
        with open(os.path.join(d, "passwd"), "w") as f:
            f.write(f"{user}:{{PLAIN}}{password}\n")
        with open(os.path.join(d, "dovecot.conf"), "w") as f:
            f.write(f"""base_dir = {d}/run
state_dir = {d}/state
instance_name = carousel-{os.path.basename(d)}
protocols = imap pop3 submission
listen = {addr}
log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home/%u
}}
mail_location = maildir:~/Maildir
hostname = {addr}.example.test
submission_relay_host = 127.0.0.1
submission_relay_port = 9
service imap-login {{
  service_count = 0
  process_min_avail = 1
  inet_listener imap {{
    port = {ports['imap']}
  }}
  inet_listener imaps {{
    port = {ports['imaps']}
  }}
}}
service pop3-login {{
  service_count = 0
  process_min_avail = 1
  inet_listener pop3 {{
    port = {ports['pop3']}
  }}
  inet_listener pop3s {{
    port = {ports['pop3s']}
  }}
}}
service submission-login {{
  service_count = 0
  process_min_avail = 1
  inet_listener submission {{
    port = {ports['smtp']}
  }}
}}
""")

    def start(self):
        self.proc = subprocess.Popen(["dovecot", "-F", "-c",
                                      os.path.join(self.dir, "dovecot.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=replica_env())
        for p in self.ports.values():
            wait_port(self.addr, p)
        return self

    def stop(self):
        stop_process(self.proc)
        self.proc = None
        wait_port(self.addr, self.ports["imap"], up=False)

    def close(self):
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)

"""A throw-away Dovecot IMAP server for the tests: its own config, users, Maildirs and TLS
certificates (from a CA made here) in a temporary folder, on 127.0.0.1 at free ports, started
as a child of the test and stopped by it.

As root, Dovecot runs its login and auth processes as the users 'dovenull' and 'dovecot'
(Debian's dovecot-core creates them) and each user's mail as uid 65534; otherwise every process
runs as the user running the test.  Without Dovecot (NotInstalled) a test is skipped; a Dovecot
that does not start is an error.  Recipes: environment.md sections 3 and 7.
"""
import getpass
import grp
import base64
import hashlib
import hmac
import imaplib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

ROOT = os.geteuid() == 0
# Whose the users' mail is: Dovecot refuses to run mail as root.
MAIL_UID = 65534 if ROOT else os.getuid()
MAIL_GID = 65534 if ROOT else os.getgid()
ISSUER = "https://issuer.test"


class NotInstalled(Exception):
    """No Dovecot here: the test is skipped."""


def free_port():
    """A port on 127.0.0.1 free when asked (the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(folder, name):
    """A CA (folder/name.crt, .key) and a server certificate it signs for 127.0.0.1 and
    localhost (folder/name-server.crt, .key)."""
    os.makedirs(folder, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
            "-subj", f"/CN=dmarcstat test CA {name}", cwd=folder)
    openssl("req", *ec, "-keyout", f"{name}-server.key", "-out", f"{name}-server.csr",
            "-subj", "/CN=localhost", cwd=folder)
    with open(os.path.join(folder, f"{name}.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", f"{name}-server.csr", "-CA", f"{name}.crt", "-CAkey",
            f"{name}.key", "-CAcreateserial", "-out", f"{name}-server.crt", "-days", "2",
            "-extfile", f"{name}.ext", cwd=folder)
    return os.path.join(folder, f"{name}.crt")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Dovecot:
    """One server.  users maps user name to password; every user also logs in with an OAuth 2.0
    token from token() (Dovecot's oauth2 passdb, validating the JWT locally)."""

    def __init__(self, root, users, ssl_on=True, capability=None, mechanisms=None):
        if shutil.which("dovecot") is None or shutil.which("doveadm") is None:
            raise NotInstalled("dovecot is not installed (Debian package dovecot-imapd)")
        self.dir = os.path.realpath(root)
        self.users = dict(users)
        self.port, self.ssl_port = free_port(), free_port()
        self.proc = None
        os.makedirs(self.dir)
        # Dovecot's auth runs as 'dovecot' and mail as MAIL_UID: both must reach the folder.
        if ROOT:
            for d in (self.dir, os.path.dirname(self.dir)):
                os.chmod(d, 0o755)
        self.secret = os.urandom(32)
        self.ca = make_ca(os.path.join(self.dir, "tls"), "ca")
        self._write_users()
        self._write_config(ssl_on, capability, mechanisms)

    def _write_users(self):
        mail = os.path.join(self.dir, "mail")
        os.makedirs(mail)
        os.chown(mail, MAIL_UID, MAIL_GID)
        with open(os.path.join(self.dir, "users"), "w") as f:
            for user, pw in self.users.items():
                f.write(f"{user}:{{PLAIN}}{pw}:{MAIL_UID}:{MAIL_GID}::{mail}/{user}::\n")
        keys = os.path.join(self.dir, "keys", "default", "HS256")
        os.makedirs(keys)
        with open(os.path.join(keys, "default"), "w") as f:
            f.write(base64.b64encode(self.secret).decode())
        subprocess.run(["chmod", "-R", "a+rX", os.path.join(self.dir, "keys"),
                        os.path.join(self.dir, "tls")], check=True)
        with open(os.path.join(self.dir, "oauth2.conf.ext"), "w") as f:
            f.write(f"introspection_mode = local\n"
                    f"local_validation_key_dict = fs:posix:prefix={self.dir}/keys/\n"
                    f"username_attribute = sub\nissuers = {ISSUER}\n")

    def _write_config(self, ssl_on, capability, mechanisms):
        d = self.dir
        tls = (f"ssl = required\nssl_cert = <{d}/tls/ca-server.crt\n"
               f"ssl_key = <{d}/tls/ca-server.key\n") if ssl_on else "ssl = no\n"
        imaps = (f"  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {self.ssl_port}\n"
                 f"    ssl = yes\n  }}\n") if ssl_on else "  inet_listener imaps {\n    port = 0\n  }\n"
        mechs = mechanisms or "plain login xoauth2 oauthbearer"
        # Without root every process is the test's user, and none can chroot.
        me, group = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
        users = "" if ROOT else (f"default_internal_user = {me}\ndefault_internal_group = {group}\n"
                                 f"default_login_user = {me}\n")
        chroot = "" if ROOT else "  chroot =\n"
        with open(os.path.join(d, "dovecot.conf"), "w") as f:
            f.write(f"""base_dir = {d}/run
state_dir = {d}/state
instance_name = dmarcstat-test-{self.port}
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
{users}{tls}disable_plaintext_auth = no
auth_failure_delay = 0
auth_verbose = yes
auth_mechanisms = {mechs}
mail_location = maildir:~/Maildir
{"imap_capability = " + capability if capability else ""}
mail_plugins = mail_log notify
plugin {{
  mail_log_events = copy expunge flag_change
  mail_log_fields = uid box flags
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {d}/users
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {d}/oauth2.conf.ext
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
service anvil {{
{chroot}  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
{chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
{imaps}}}
""")

    def start(self):
        """Starts the server and waits until its ports accept connections."""
        log = open(os.path.join(self.dir, "stderr.log"), "wb")
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", os.path.join(self.dir, "dovecot.conf")],
                                     stdout=log, stderr=log)
        log.close()
        ports = [self.port] + ([self.ssl_port] if "ssl = required" in self.config() else [])
        deadline = time.monotonic() + 20
        while ports:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited with {self.proc.returncode}: {self.errors()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot did not listen within 20 s: {self.errors()}")
            try:
                socket.create_connection(("127.0.0.1", ports[0]), timeout=1).close()
                ports.pop(0)
            except OSError:
                time.sleep(0.02)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.proc = None

    def config(self):
        with open(os.path.join(self.dir, "dovecot.conf")) as f:
            return f.read()

    def log(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def errors(self):
        text = self.log()
        try:
            with open(os.path.join(self.dir, "stderr.log"), errors="replace") as f:
                text += f.read()
        except OSError:
            pass
        return " | ".join(line for line in text.splitlines()
                          if "Error" in line or "Fatal" in line)[-600:]

    def url(self, user, folder="INBOX", scheme="imaps", options=""):
        port = self.ssl_port if scheme == "imaps" else self.port
        return f"{scheme}://{user}{options}@127.0.0.1:{port}/{folder}"

    def maildir(self, user, folder="INBOX"):
        base = os.path.join(self.dir, "mail", user, "Maildir")
        return base if folder == "INBOX" else os.path.join(base, "." + folder)

    def deliver(self, user, messages, folder="INBOX"):
        """Puts messages (bytes each) in a folder as new mail, the way an MTA delivers to a
        Maildir; Dovecot gives them UIDs in this order when it next looks."""
        box = self.maildir(user, folder)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(box, sub), exist_ok=True)
        stamp = time.time_ns()
        for i, data in enumerate(messages):
            tmp = os.path.join(box, "tmp", f"{stamp}.M{i}P{os.getpid()}.test")
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, os.path.join(box, "new", os.path.basename(tmp)))
        for top, dirs, files in os.walk(os.path.join(self.dir, "mail", user)):
            for name in dirs + files:
                os.lchown(os.path.join(top, name), MAIL_UID, MAIL_GID)
        os.chown(os.path.join(self.dir, "mail", user), MAIL_UID, MAIL_GID)

    def client(self, user):
        """An imaplib connection over TLS, logged in, for looking at what dmarcstat left."""
        ctx = ssl.create_default_context(cafile=self.ca)
        c = imaplib.IMAP4_SSL("127.0.0.1", self.ssl_port, ssl_context=ctx)
        c.login(user, self.users[user])
        return c

    def folder(self, user, folder="INBOX"):
        """{uid: (flags, sha256 of the message as IMAP sends it)} of a folder, read without
        setting \\Seen."""
        c = self.client(user)
        try:
            typ, _ = c.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return None
            out = {}
            typ, data = c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
            for item in data:
                if not isinstance(item, tuple):
                    continue
                head = item[0].decode()
                uid = int(head.split("UID ")[1].split()[0])
                flags = head.split("FLAGS (")[1].split(")")[0].split()
                out[uid] = (flags, hashlib.sha256(item[1]).hexdigest())
            return out
        finally:
            c.logout()

    def status(self, user, folder="INBOX"):
        c = self.client(user)
        try:
            typ, data = c.status(f'"{folder}"', "(MESSAGES UIDVALIDITY UIDNEXT)")
            if typ != "OK":
                return None
            words = data[0].decode().split("(")[1].rstrip(")").split()
            return {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}
        finally:
            c.logout()

    def set_uidvalidity(self, user, folder, value):
        subprocess.run(["doveadm", "-c", os.path.join(self.dir, "dovecot.conf"), "mailbox",
                        "update", "-u", user, "--uid-validity", str(value), folder],
                       check=True, capture_output=True)

    def token(self, user, ttl=3600, issuer=ISSUER):
        """An OAuth 2.0 access token (a JWT signed with HS256) that Dovecot accepts for user
        while ttl seconds have not passed."""
        head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = b64url(json.dumps({"sub": user, "iss": issuer,
                                    "exp": int(time.time()) + ttl}).encode())
        sig = hmac.new(self.secret, f"{head}.{claims}".encode(), hashlib.sha256).digest()
        return f"{head}.{claims}.{b64url(sig)}"

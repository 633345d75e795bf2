"""The reference: the classic Debian MX, Postfix accepting mail for a virtual
domain and handing it over LMTP to Dovecot, which stores it in Maildir and
serves it over POP3.

Both run as private instances: their own config files, queue, state and
socket directories under the benchmark's temp directory, their own loopback
ports.  A system-wide Postfix or Dovecot (if any) is neither read nor
touched.  The settings are the packages' defaults except where listed in
NOTES, which the report prints."""

import os
import pwd
import grp
import multiprocessing
import resource
import shutil
import subprocess
import time

from .common import (BenchError, log, run, wait_port, port_is_free,
                     pid_alive, kill_pids, read_pidfile, wait_pid_gone,
                     process_tree)
from . import mailgen

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
PACKAGES = ["postfix", "dovecot-core", "dovecot-pop3d", "dovecot-lmtpd",
            "dovecot-imapd"]
NEEDED_FILES = [POSTFIX, "/usr/sbin/smtp-source", DOVECOT,
                "/usr/lib/dovecot/pop3", "/usr/lib/dovecot/pop3-login",
                "/usr/lib/dovecot/lmtp", "/usr/lib/dovecot/imap",
                "/usr/lib/dovecot/imap-login", "/usr/lib/dovecot/imap-hibernate"]

SMTP_PORT = 20025
POP3_PORT = 20110
IMAP_PORT = 20143
# The TLS rows only: Postfix smtpd in wrapper mode (465-style) and Dovecot
# imaps (993-style).
SMTPS_PORT = 20465
IMAPS_PORT = 20993
DOMAIN = "bench.test"
USER = "bench@bench.test"
PASSWORD = "bench-Passw0rd"
# Process limits: Postfix's default_process_limit and Dovecot's pop3 limits
# are 100, too few for the 1,000 idle sessions of the memory test.
PROCESS_LIMIT = 1100
# The IMAP rows with 10,000 idle connections only: Dovecot restarted with
# room for them (one imap process each, or imap-hibernate holding them),
# and descriptors for its master, which keeps a few per child.
BIG_PROCESS_LIMIT = 10500
BIG_CLIENT_LIMIT = 12000
BIG_NOFILE = 65536
# Every imap process runs as the one mail user (nobody) and takes an
# inotify instance for IDLE; the kernel's default of 128 instances per user
# makes Dovecot fall back to polling, and imap-hibernate then cannot take
# the connections over.  Raised while the IMAP rows run (Dovecot's own
# advice), and put back when the reference stops.
INOTIFY_INSTANCES = "/proc/sys/fs/inotify/max_user_instances"
INOTIFY_WANT = 32768
# How long a client sits in IDLE before Dovecot hands it to imap-hibernate
# (the setting's documented example; off by default).
HIBERNATE_TIMEOUT = 5
# posthorn's default smtp.max_message_size (25M); Postfix's default is 10 MB.
MESSAGE_SIZE_LIMIT = 26214400

# Printed with the results: every setting that differs from the packages'
# defaults (besides paths, ports and the domain/user themselves), and why.
NOTES = [
    "Postfix %s + Dovecot %s, private instances (own config, queue and state "
    "dirs, loopback ports %d SMTP / %d POP3), Debian 12 packages.",
    "Postfix: smtpd directly on the port (no postscreen), "
    "virtual_mailbox_domains = bench.test, virtual_mailbox_maps lists "
    "bench@bench.test, virtual_transport = lmtp:unix:<dovecot lmtp socket>; default "
    "durability (the queue file is fsynced before the 250 reply), default "
    "in_flow_delay and LMTP concurrency.",
    "Postfix changes: compatibility_level = 3.6 (as in Debian's main.cf "
    "template); default_process_limit = 1100 (for 1,000 sessions); "
    "chroot off in master.cf (no jail to populate); "
    "smtpd_peername_lookup = no (no resolver traffic; loopback only); "
    "mynetworks = 127.0.0.0/8 (so the per-client connection limits "
    "exempt the load generator); message_size_limit = 26214400 (posthorn's "
    "default 25M, instead of 10240000, for the 25 MiB messages).",
    "Dovecot: Maildir, mail_fsync = optimized (default), passwd-file passdb "
    "({PLAIN} password), static userdb, pop3-login in its default "
    "high-security mode (one login process per connection, one pop3 "
    "process per logged-in session), LMTP on a unix socket.",
    "Dovecot changes: pop3 and pop3-login process_limit = 1100, "
    "default_client_limit = 4000 (for 1,000 sessions); ssl = no and "
    "plaintext auth allowed (loopback test, no TLS on either side).",
]


def big_nofile():
    """(soft, hard) open-file limits for the 10,000-connection variant:
    BIG_NOFILE, or as much of it as the hard limit allows (raising the
    hard limit needs CAP_SYS_RESOURCE, which a container may not give)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if os.geteuid() == 0 and hard != resource.RLIM_INFINITY and hard < BIG_NOFILE:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, BIG_NOFILE))
            hard = BIG_NOFILE
        except (ValueError, OSError):
            pass
    want = BIG_NOFILE if hard == resource.RLIM_INFINITY else min(BIG_NOFILE, hard)
    return want, hard


def tail(path, lines=3):
    try:
        with open(path, errors="replace") as f:
            return " | ".join(l.strip() for l in f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def installed():
    return all(os.path.exists(f) for f in NEEDED_FILES)


def install():
    """apt-get install the reference if any piece is missing.

    Postfix's debconf question is preseeded to "No configuration" so it
    writes no system main.cf.  While apt runs, a policy-rc.d (only if none
    exists) keeps the packages from starting system-wide services: we only
    want the binaries, and must not leave a new Dovecot listening on
    110/143 behind."""
    if installed():
        return
    if os.geteuid() != 0:
        raise BenchError("postfix/dovecot missing and not root: apt-get install -y %s"
                         % " ".join(PACKAGES))
    log("installing %s from Debian" % " ".join(PACKAGES))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["debconf-set-selections"], timeout=60,
        input="postfix postfix/main_mailer_type select No configuration\n")
    policy = "/usr/sbin/policy-rc.d"
    made_policy = False
    if not os.path.exists(policy):
        with open(policy, "w") as f:
            f.write("#!/bin/sh\n# temporary, while the benchmark installs packages\nexit 101\n")
        os.chmod(policy, 0o755)
        made_policy = True
    try:
        run(["apt-get", "update", "-q"], timeout=300, env=env)
        run(["apt-get", "install", "-y", "-q"] + PACKAGES,
            timeout=600, env=env)
    finally:
        if made_policy:
            os.unlink(policy)
    if not installed():
        raise BenchError("apt-get install finished but files are missing: %s"
                         % [f for f in NEEDED_FILES if not os.path.exists(f)])


def versions():
    pf = run([POSTCONF, "-d", "-h", "mail_version"], check=False).stdout.strip()
    dv = run([DOVECOT, "--version"], check=False).stdout.strip().split()[:1]
    return pf or "?", (dv[0] if dv else "?")


MASTER_CF = """\
# Private Postfix instance of the posthorn benchmark.  Debian's default
# services, with chroot off (column 5) so no jail needs populating.
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:{smtp_port} inet n -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
{tls_services}"""

# The TLS rows only: SMTP over implicit TLS, as Debian's master.cf template
# has it for "submissions" (less its SASL and client restrictions, which an
# idle session after EHLO and a handshake never reach).
MASTER_CF_SMTPS = """127.0.0.1:{port} inet n -       n       -       -       smtpd
  -o syslog_name=postfix/submissions
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_cert_file={cert}
  -o smtpd_tls_key_file={key}
"""

MAIN_CF = """\
# Private Postfix instance of the posthorn benchmark: an MX for {domain}
# delivering over LMTP to a private Dovecot.  Defaults unless noted.
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
maillog_file = {log}
myhostname = mx.{domain}
mydomain = {domain}
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
virtual_mailbox_domains = {domain}
virtual_mailbox_maps = texthash:{vmailbox}
virtual_transport = lmtp:unix:{lmtp_socket}
# No reverse lookup of the client address: keeps every lookup off the
# network (the benchmark sends nothing beyond loopback).
smtpd_peername_lookup = no
# Room for the 1,000 idle sessions of the memory test.
default_process_limit = {process_limit}
# posthorn's default largest message (25M), instead of Postfix's 10 MB, so
# that both take in the 25 MiB messages of the large-message test.
message_size_limit = {size_limit}
"""

DOVECOT_CONF = """\
# Private Dovecot instance of the posthorn benchmark.  Self-contained (does
# not include /etc/dovecot); defaults unless noted.
protocols = pop3 lmtp imap
listen = 127.0.0.1
base_dir = {run}
state_dir = {state}
instance_name = posthorn-bench
hostname = mx.{domain}
log_path = {log}
{ssl_conf}disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:~/Maildir
first_valid_uid = 1
first_valid_gid = 1
# Room for the 1,000 idle sessions of the memory test.
default_client_limit = 4000

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={mail_root}/%d/%n
}}

service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3_port}
  }}
  process_limit = {process_limit}
}}
service pop3 {{
  process_limit = {process_limit}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
{imaps_listener}  process_limit = {process_limit}
}}
service imap {{
  process_limit = {imap_process_limit}
{imap_extra}}}
{variant_extra}service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
"""

# The imap-hibernate variant.  The imap processes run as the mail user
# (nobody) and must reach imap-hibernate's socket.
HIBERNATE_CONF = """\
imap_hibernate_timeout = {timeout}s
service imap-hibernate {{
  unix_listener imap-hibernate {{
    mode = 0666
  }}
}}
"""


class Reference:
    name = "reference"
    smtp_port = SMTP_PORT
    pop3_port = POP3_PORT
    user = USER
    password = PASSWORD

    def __init__(self, base, idle_users=()):
        self.base = os.path.join(base, "reference")
        # Extra users for the POP3 memory test: one session per user, as
        # posthorn needs (it locks a maildrop per POP3 session).
        self.idle_users = list(idle_users)
        self.pf_conf = os.path.join(self.base, "postfix-etc")
        self.pf_queue = os.path.join(self.base, "postfix-spool")
        self.pf_data = os.path.join(self.base, "postfix-data")
        self.dv_conf = os.path.join(self.base, "dovecot.conf")
        self.dv_run = os.path.join(self.base, "dovecot-run")
        self.dv_state = os.path.join(self.base, "dovecot-state")
        self.logdir = os.path.join(self.base, "log")
        self.mail_root = os.path.join(self.base, "mail")
        local, dom = USER.split("@")
        self.maildir = os.path.join(self.mail_root, dom, local, "Maildir")
        self.dv_users = os.path.join(self.base, "dovecot-users")
        self.imap_users = []    # users of the IMAP rows (added by imap_fill)
        self.variant = {"hibernate": False, "big": False}
        self.inotify_saved = None
        self.tls = None         # (cert, key) once the TLS rows enable TLS
        self.dovecot_proc = None
        self.started = False

    # -- configuration ----------------------------------------------------
    def setup(self):
        """Write both configs and the directories they need (once)."""
        install()
        # (Not the data directory: "postfix check" creates it owned by
        # the postfix user, as it must be.)
        for d in (self.base, self.pf_conf, self.logdir,
                  self.mail_root, self.pf_queue):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)   # postfix/dovecot users must traverse
        # Mail is stored as "nobody": an unprivileged uid that exists on
        # every Debian, so we need not create a system user.
        nobody = pwd.getpwnam("nobody")
        os.chown(self.mail_root, nobody.pw_uid, nobody.pw_gid)
        vmailbox = os.path.join(self.pf_conf, "vmailbox")
        with open(vmailbox, "w") as f:
            f.write("%s OK\n" % USER)
        with open(os.path.join(self.pf_conf, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(
                domain=DOMAIN, queue=self.pf_queue, data=self.pf_data,
                log=os.path.join(self.logdir, "postfix.log"),
                vmailbox=vmailbox,
                lmtp_socket=os.path.join(self.dv_run, "lmtp"),
                process_limit=PROCESS_LIMIT, size_limit=MESSAGE_SIZE_LIMIT))
        self._write_master_cf()
        # Debian's postfix looks for dynamicmaps.cf in the config directory.
        if os.path.exists("/etc/postfix/dynamicmaps.cf"):
            shutil.copy("/etc/postfix/dynamicmaps.cf", self.pf_conf)
        self._write_users()
        self._write_dovecot_conf()

    def _write_master_cf(self):
        tls = (MASTER_CF_SMTPS.format(port=SMTPS_PORT, cert=self.tls[0], key=self.tls[1])
               if self.tls else "")
        with open(os.path.join(self.pf_conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(smtp_port=SMTP_PORT, tls_services=tls))

    def tls_enable(self, cert, key):
        """For the TLS rows: Postfix also listens in wrapper mode on
        SMTPS_PORT, Dovecot gets ssl = yes with this certificate and
        listens for imaps on IMAPS_PORT.  Takes effect at the next start."""
        self.tls = (cert, key)
        # Dovecot as configured by default (an earlier IMAP row may have
        # left it with imap-hibernate or the 10,000-connection limits)
        self.variant = {"hibernate": False, "big": False}
        self._write_master_cf()
        self._write_dovecot_conf()

    def tls_ports(self):
        return (SMTPS_PORT, IMAPS_PORT) if self.tls else ()

    def _write_users(self):
        """Dovecot's passwd-file (it re-reads it when it changes)."""
        tmp = self.dv_users + ".tmp"
        with open(tmp, "w") as f:
            for u in [USER] + self.idle_users + self.imap_users:
                f.write("%s:{PLAIN}%s\n" % (u, PASSWORD))
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.dv_users)

    def _write_dovecot_conf(self):
        """The config of the current IMAP variant: the defaults, or
        imap-hibernate on, and/or room for 10,000 IMAP connections."""
        nobody = pwd.getpwnam("nobody")
        imap_extra = variant_extra = ""
        limit = PROCESS_LIMIT
        if self.variant["big"]:
            limit = BIG_PROCESS_LIMIT
            variant_extra += "default_client_limit = %d\n" % BIG_CLIENT_LIMIT
        if self.variant["hibernate"]:
            variant_extra += HIBERNATE_CONF.format(timeout=HIBERNATE_TIMEOUT)
            # imap-hibernate hands a woken client back to a new imap
            # process through this socket.
            imap_extra = ("  unix_listener imap-master {\n"
                          "    user = $default_internal_user\n  }\n")
        if self.tls:
            # Debian's 10-ssl.conf, with the benchmark's certificate
            ssl_conf = "ssl = yes\nssl_cert = <%s\nssl_key = <%s\n" % self.tls
            imaps = ("  inet_listener imaps {\n    address = 127.0.0.1\n"
                     "    port = %d\n    ssl = yes\n  }\n" % IMAPS_PORT)
        else:
            ssl_conf, imaps = "ssl = no\n", ""
        with open(self.dv_conf, "w") as f:
            f.write(DOVECOT_CONF.format(ssl_conf=ssl_conf, imaps_listener=imaps,
                run=self.dv_run, state=self.dv_state, domain=DOMAIN,
                log=os.path.join(self.logdir, "dovecot.log"), users=self.dv_users,
                mail_user="nobody", mail_group=grp.getgrgid(nobody.pw_gid).gr_name,
                mail_root=self.mail_root, pop3_port=POP3_PORT,
                imap_port=IMAP_PORT, process_limit=PROCESS_LIMIT,
                imap_process_limit=limit, imap_extra=imap_extra,
                variant_extra=variant_extra))

    def notes(self):
        pf, dv = versions()
        return [NOTES[0] % (pf, dv, SMTP_PORT, POP3_PORT)] + NOTES[1:]

    # -- life cycle -------------------------------------------------------
    def _postfix(self, *args, timeout=60, check=True):
        return run([POSTFIX, "-c", self.pf_conf] + list(args),
                   timeout=timeout, check=check)

    def postfix_pid(self):
        return read_pidfile(os.path.join(self.pf_queue, "pid", "master.pid"))

    def dovecot_pid(self):
        return self.dovecot_proc.pid if self.dovecot_proc else None

    def _start_dovecot(self):
        ports = (POP3_PORT, IMAP_PORT) + ((IMAPS_PORT,) if self.tls else ())
        for port in ports:
            if not port_is_free("127.0.0.1", port):
                raise BenchError("port %d is already in use (a leftover "
                                 "instance of an earlier run?)" % port)
        nofile = big_nofile() if self.variant["big"] else None

        def limits():
            # The 10,000-connection variant only: Dovecot's master keeps
            # descriptors for each of its 10,000 children.
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, nofile)
        # -F keeps it in the foreground, so its PID is our child's.
        try:
            self.dovecot_proc = subprocess.Popen(
                [DOVECOT, "-F", "-c", self.dv_conf],
                stdout=open(os.path.join(self.logdir, "dovecot.stdout"), "ab"),
                stderr=subprocess.STDOUT, preexec_fn=limits)
        except subprocess.SubprocessError as e:
            raise BenchError("cannot start dovecot: %s" % e)
        self.started = True
        for port in ports:
            wait_port("127.0.0.1", port, 30,
                      alive=lambda: self.dovecot_proc.poll() is None)
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(self.dv_run, "lmtp")):
            if time.monotonic() > deadline:
                raise BenchError("dovecot made no lmtp socket")
            time.sleep(0.05)

    def _stop_dovecot(self):
        if self.dovecot_proc and self.dovecot_proc.poll() is None:
            tree = process_tree(self.dovecot_proc.pid)
            self.dovecot_proc.terminate()
            try:
                self.dovecot_proc.wait(30)
            except subprocess.TimeoutExpired:
                self.dovecot_proc.kill()
                self.dovecot_proc.wait(5)
            kill_pids(tree, timeout=10)

    def start(self):
        for port in (SMTP_PORT, POP3_PORT, IMAP_PORT) + self.tls_ports():
            if not port_is_free("127.0.0.1", port):
                raise BenchError("port %d is already in use (a leftover "
                                 "instance of an earlier run?)" % port)
        # Dovecot first: Postfix delivers into its LMTP socket.
        self._start_dovecot()
        # "postfix start" also runs "postfix check", which creates the
        # queue directories with the right owners.
        p = self._postfix("start", timeout=120, check=False)
        if p.returncode != 0:
            # Postfix logs the reason to its log file, not to stderr.
            raise BenchError("postfix start failed: %s"
                             % tail(os.path.join(self.logdir, "postfix.log")))
        wait_port("127.0.0.1", SMTP_PORT, 30)
        if self.tls:
            wait_port("127.0.0.1", SMTPS_PORT, 30)

    def alive(self):
        return (self.dovecot_proc is not None and self.dovecot_proc.poll() is None
                and pid_alive(self.postfix_pid() or 0))

    def exit_status(self):
        gone = []
        if not pid_alive(self.postfix_pid() or 0):
            gone.append("postfix master gone")
        if self.dovecot_proc is None or self.dovecot_proc.poll() is not None:
            gone.append("dovecot gone")
        return ", ".join(gone) or "running"

    def stop(self):
        if not self.started:
            return
        self.started = False
        pf = self.postfix_pid()
        if pf and pid_alive(pf):
            # Remember the whole tree: "postfix stop" asks the master to
            # stop, children exit on their own; anything left gets killed.
            tree = process_tree(pf)
            self._postfix("stop", timeout=60, check=False)
            if not wait_pid_gone(pf, 15):
                self._postfix("abort", timeout=30, check=False)
            kill_pids(tree, timeout=5)
        self._stop_dovecot()
        self._restore_inotify()

    # The memory test sums the process tree under these PIDs: Postfix's
    # master serves SMTP (smtpd children), Dovecot's master serves POP3
    # (pop3-login and pop3 children).
    def smtp_root(self):
        return self.postfix_pid()

    def pop3_root(self):
        return self.dovecot_pid()

    # -- mailbox ----------------------------------------------------------
    def _queue_counts(self):
        """(messages in Postfix's queue, of which deferred)."""
        total = deferred = 0
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _root, _dirs, files in os.walk(os.path.join(self.pf_queue, sub)):
                total += len(files)
                if sub == "deferred":
                    deferred += len(files)
        return total, deferred

    def _maildir_count(self):
        n = 0
        for sub in ("new", "cur"):
            try:
                n += len(os.listdir(os.path.join(self.maildir, sub)))
            except FileNotFoundError:
                pass
        return n

    def delivered(self):
        """(messages in the mailbox, messages still queued by Postfix).

        A message counts when Dovecot has renamed it into new/ (it writes
        to tmp/ first); the caller also waits for the queue to be empty so
        that "delivered" means Postfix is done with every message too.
        A deferred message means a delivery failed: raise, don't wait."""
        queued, deferred = self._queue_counts()
        if deferred:
            raise BenchError("%d message(s) deferred by Postfix; see %s"
                             % (deferred, os.path.join(self.logdir, "postfix.log")))
        n = self._maildir_count()
        return n, queued

    def empty_mailbox(self):
        """Expunge everything through Dovecot itself (doveadm), so its
        index and any LMTP process that has the mailbox open stay
        consistent: removing the Maildir behind Dovecot's back makes the
        next delivery fail with "Mailbox was deleted under us"."""
        if self._queue_counts()[0]:
            raise BenchError("Postfix queue not empty before emptying the mailbox")
        if self._maildir_count():
            run([DOVEADM, "-c", self.dv_conf, "expunge", "-u", USER,
                 "mailbox", "INBOX", "all"], timeout=120)
        if self._maildir_count():
            raise BenchError("doveadm expunge left messages in %s" % self.maildir)

    def log_files(self):
        return [os.path.join(self.logdir, f) for f in
                ("postfix.log", "dovecot.log", "dovecot.stdout")]

    # -- IMAP -------------------------------------------------------------
    imap_port = IMAP_PORT
    # The memory rows measure Dovecot as configured by default and with
    # imap-hibernate; posthorn has one configuration.
    imap_variants = ("default", "hibernate")

    def imap_available(self):
        return True

    def imap_root(self):
        return self.dovecot_pid()

    def imap_configure(self, variant="default", big=False):
        """Restart Dovecot (Postfix keeps running) in the given IMAP
        variant: "default" or "hibernate", and with room for 10,000
        connections if big.  A restart even when nothing changes: each
        memory row starts from a fresh Dovecot."""
        self.variant = {"hibernate": variant == "hibernate", "big": big}
        self._raise_inotify()
        self._write_dovecot_conf()
        self._stop_dovecot()
        self._start_dovecot()

    def _raise_inotify(self):
        if self.inotify_saved is not None:
            return
        try:
            with open(INOTIFY_INSTANCES) as f:
                old = int(f.read())
            if old < INOTIFY_WANT:
                with open(INOTIFY_INSTANCES, "w") as f:
                    f.write("%d\n" % INOTIFY_WANT)
                self.inotify_saved = old
                log("reference: fs.inotify.max_user_instances %d -> %d while the "
                    "IMAP rows run" % (old, INOTIFY_WANT))
        except (OSError, ValueError) as e:
            log("reference: cannot raise fs.inotify.max_user_instances: %s" % e)

    def _restore_inotify(self):
        if self.inotify_saved is None:
            return
        try:
            with open(INOTIFY_INSTANCES, "w") as f:
                f.write("%d\n" % self.inotify_saved)
        except OSError as e:
            log("reference: cannot restore fs.inotify.max_user_instances: %s" % e)
        self.inotify_saved = None

    def _make_home(self, user, nobody):
        """The user's home, and its domain's directory, owned by the mail
        user: Dovecot makes the homes of the users that get mail over LMTP
        in the domain's directory, as that user."""
        local, dom = user.split("@")
        home = os.path.join(self.mail_root, dom, local)
        os.makedirs(home, exist_ok=True)
        for d in (os.path.dirname(home), home):
            os.chown(d, nobody.pw_uid, nobody.pw_gid)
        return home

    def imap_fill(self, users, count):
        """users (addresses) each get an INBOX of messages 0..count-1 of
        the corpus, written as Maildir files (once, in a pool) and hard
        linked into every user's Maildir: 1,000 users in seconds, with
        Dovecot building its index on the first SELECT as it would for
        mail delivered behind its back."""
        self._raise_inotify()
        nobody = pwd.getpwnam("nobody")
        pool = os.path.join(self.mail_root, DOMAIN, ".pool")
        if not os.path.isdir(os.path.join(pool, "cur")):
            mailgen.write_maildir(pool, 0, count, nobody.pw_uid, nobody.pw_gid,
                                  "imap@%s" % DOMAIN)
        for u in users:
            home = self._make_home(u, nobody)
            mailgen.link_maildir(pool, os.path.join(home, "Maildir"),
                                 nobody.pw_uid, nobody.pw_gid)
        self.imap_users += [u for u in users if u not in self.imap_users]
        self._write_users()
        return "Maildir files written directly (hard links of one pool of %d)" % count

    def imap_fill_big(self, user, count, workers=2):
        """One user with count messages of the corpus, Maildir files
        written directly (in `workers` processes)."""
        nobody = pwd.getpwnam("nobody")
        home = self._make_home(user, nobody)
        md = os.path.join(home, "Maildir")
        mailgen.make_maildir(md, nobody.pw_uid, nobody.pw_gid)
        step = -(-count // workers)
        jobs = [(md, k, min(step, count - k), nobody.pw_uid, nobody.pw_gid, user)
                for k in range(0, count, step)]
        with multiprocessing.Pool(workers) as pool:
            total = sum(pool.starmap(mailgen.write_maildir, jobs))
        if user not in self.imap_users:
            self.imap_users.append(user)
        self._write_users()
        return ("%d Maildir files (%.0f MB) written directly"
                % (count, total / 1e6))

    def imap_maildir(self, user):
        local, dom = user.split("@")
        return os.path.join(self.mail_root, dom, local, "Maildir")

    # -- TLS ----------------------------------------------------------------
    smtps_port = SMTPS_PORT
    imaps_port = IMAPS_PORT

    def smtps_root(self):
        return self.postfix_pid()

    def imaps_root(self):
        return self.dovecot_pid()

    def listen_note(self, port):
        return " (see the reference's logs)"

    def tls_notes(self):
        return ["Reference TLS (TLS rows only): the same self-signed ECDSA P-256 "
                "certificate as posthorn. Postfix: a second smtpd service on "
                "127.0.0.1:%d with -o smtpd_tls_wrappermode=yes, "
                "smtpd_tls_security_level=encrypt and the certificate "
                "(smtpd_tls_cert_file/key_file); other TLS settings at "
                "Postfix's defaults (session tickets via tlsmgr). Dovecot: "
                "ssl = yes with ssl_cert/ssl_key, an imaps listener on "
                "127.0.0.1:%d, other ssl settings at their defaults; "
                "imap-login in its default high-security mode, which keeps "
                "one imap-login process per TLS connection as its TLS proxy."
                % (SMTPS_PORT, IMAPS_PORT)]

    def imap_notes(self):
        return ["Dovecot IMAP: imap on 127.0.0.1:%d, imap-login in its default "
                "high-security mode (one login process per connection) and one "
                "imap process per logged-in connection; imap and imap-login "
                "process_limit = %d; mail_max_userip_connections at its default "
                "(10), the clients come from 10 addresses 127.0.0.1-10. "
                "Mailboxes prefilled by writing Maildir files directly "
                "(Dovecot indexes them on the first SELECT)." % (IMAP_PORT, PROCESS_LIMIT),
                "Dovecot imap-hibernate variant: imap_hibernate_timeout = %ds "
                "(off by default), imap-hibernate's socket open to the mail "
                "user (mode 0666), imap-master's to Dovecot's internal user."
                % HIBERNATE_TIMEOUT,
                "fs.inotify.max_user_instances raised to %d (if lower; the "
                "kernel's default is 128) while the IMAP rows run, put back "
                "afterwards: every imap process runs as the one mail user "
                "and takes an inotify instance for IDLE; at 128 Dovecot falls "
                "back to polling and cannot hibernate." % INOTIFY_WANT,
                "Dovecot for the 10,000-connection rows only: imap process_limit "
                "= %d, default_client_limit = %d, and its open-file limit "
                "raised to %d (or the hard limit, if lower: %d here)."
                % (BIG_PROCESS_LIMIT, BIG_CLIENT_LIMIT, BIG_NOFILE, big_nofile()[0])]

"""Real OpenLDAP directories (Debian slapd) for tests and benchmarks.

    with running_slapd(tmp_path, OPENLDAP) as server:
        server.harbor_settings()   # the ldap_* configuration that points at it

Two shapes:
  OPENLDAP  dc=example,dc=org: inetOrgPerson users found by uid, groupOfNames /
            groupOfUniqueNames / posixGroup groups, the memberof overlay (memberOf on users
            and nested groups), the ppolicy module for pwdAccountLockedTime, and a user in
            50 groups (`busy`).
  AD        dc=corp,dc=example shaped like Active Directory: users found by sAMAccountName,
            with userAccountControl and a stored (not computed) memberOf, from a tiny schema
            written next to slapd.conf (the Debian schemas lack these attributes).

Each server is one slapd process with a slapd.conf and an mdb database in its own
directory, on a free 127.0.0.1 port, loaded with ldapadd, stopped when the block ends.
Optionally also on ldaps:// with a self-signed certificate.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ldap

from tests.stack import free_port
from tests.tls import self_signed

SLAPD = "/usr/sbin/slapd"
MODULE_DIR = Path("/usr/lib/ldap")
SCHEMA_DIR = Path("/etc/ldap/schema")
SERVICE_PASSWORD = "ReaderPass1"
ROOT_PASSWORD = "RootSecret1"
BUSY_GROUPS = 50


@dataclass(frozen=True)
class Shape:
    name: str
    suffix: str
    uid: str
    user_filter: str
    group_filter: str
    memberof_overlay: bool
    extra_schema: str
    ldif: str


def _people_ldif(suffix: str) -> str:
    out = []
    users = [
        ("alice", "Alice Liddell", "alice@example.org", "AlicePass1", ""),
        ("bob", "Bob Builder", "bob@example.org", "BobPass1", ""),
        ("carol", "Carol Admin", "carol@example.org", "CarolPass1", ""),
        ("dave", "Dave Locked", "dave@example.org", "DavePass1", ""),
        ("erin", "", "", "ErinPass1", ""),
        ("busy", "Busy Bee", "busy@example.org", "BusyPass1", ""),
        ("twin", "Twin One", "twin1@example.org", "TwinPass1", ""),
    ]
    for uid, display, mail, password, _ in users:
        lines = [
            f"dn: uid={uid},ou=people,{suffix}",
            "objectClass: inetOrgPerson",
            f"uid: {uid}",
            f"cn: {display or uid}",
            f"sn: {uid}",
            f"userPassword: {password}",
        ]
        if display:
            lines.append(f"displayName: {display}")
        if mail:
            lines.append(f"mail: {mail}")
        out.append("\n".join(lines))
    # The same uid twice: such a login is ambiguous and must be refused.
    out.append(
        "\n".join(
            [
                f"dn: uid=twin,ou=contractors,{suffix}",
                "objectClass: inetOrgPerson",
                "uid: twin",
                "cn: Twin Two",
                "sn: twin",
                "userPassword: TwinPass1",
            ]
        )
    )
    return "\n\n".join(out)


def _openldap_ldif() -> str:
    s = "dc=example,dc=org"
    people = f"ou=people,{s}"
    groups = f"ou=groups,{s}"
    head = f"""dn: {s}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: {people}
objectClass: organizationalUnit
ou: people

dn: ou=contractors,{s}
objectClass: organizationalUnit
ou: contractors

dn: {groups}
objectClass: organizationalUnit
ou: groups

dn: cn=reader,{s}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: {SERVICE_PASSWORD}
"""
    group_entries = [
        f"dn: cn=developers,{groups}\nobjectClass: groupOfNames\ncn: developers\n"
        f"member: uid=alice,{people}",
        # nested: developers is a member of platform, platform of everyone
        f"dn: cn=platform,{groups}\nobjectClass: groupOfNames\ncn: platform\n"
        f"member: cn=developers,{groups}",
        f"dn: cn=everyone,{groups}\nobjectClass: groupOfNames\ncn: everyone\n"
        f"member: cn=platform,{groups}",
        f"dn: cn=harbor-admins,{groups}\nobjectClass: groupOfNames\ncn: harbor-admins\n"
        f"member: uid=carol,{people}",
        f"dn: cn=qa,{groups}\nobjectClass: groupOfUniqueNames\ncn: qa\n"
        f"uniqueMember: uid=bob,{people}",
        f"dn: cn=ops,{groups}\nobjectClass: posixGroup\ncn: ops\ngidNumber: 5000\nmemberUid: bob",
    ]
    for i in range(1, BUSY_GROUPS + 1):
        group_entries.append(
            f"dn: cn=team{i:02d},{groups}\nobjectClass: groupOfNames\ncn: team{i:02d}\n"
            f"member: uid=busy,{people}"
        )
    return "\n\n".join([head.strip(), _people_ldif(s), *group_entries]) + "\n"


AD_SCHEMA = """
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.102 NAME 'memberOf'
  EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
objectclass ( 1.3.6.1.4.1.4203.666.11.9.1 NAME 'harborTestADObject' AUXILIARY
  MAY ( sAMAccountName $ userAccountControl $ memberOf ) )
"""


def _ad_ldif() -> str:
    s = "dc=corp,dc=example"
    users = f"ou=Users,{s}"
    groups = f"ou=Groups,{s}"
    entries = [
        f"dn: {s}\nobjectClass: dcObject\nobjectClass: organization\no: Corp\ndc: corp",
        f"dn: {users}\nobjectClass: organizationalUnit\nou: Users",
        f"dn: {groups}\nobjectClass: organizationalUnit\nou: Groups",
        f"dn: cn=reader,{s}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: reader\nuserPassword: {SERVICE_PASSWORD}",
    ]

    def user(cn: str, sam: str, password: str, uac: int, member_of: list[str]) -> str:
        lines = [
            f"dn: cn={cn},{users}",
            "objectClass: inetOrgPerson",
            "objectClass: harborTestADObject",
            f"cn: {cn}",
            f"sn: {sam}",
            f"displayName: {cn}",
            f"sAMAccountName: {sam}",
            f"mail: {sam}@corp.example",
            f"userAccountControl: {uac}",
            f"userPassword: {password}",
        ]
        lines += [f"memberOf: cn={g},{groups}" for g in member_of]
        return "\n".join(lines)

    def group(cn: str, members: list[str], member_of: list[str]) -> str:
        lines = [
            f"dn: cn={cn},{groups}",
            "objectClass: groupOfNames",
            "objectClass: harborTestADObject",
            f"cn: {cn}",
            f"sAMAccountName: {cn.replace(' ', '')}",
        ]
        lines += [f"member: {m}" for m in members]
        lines += [f"memberOf: cn={g},{groups}" for g in member_of]
        return "\n".join(lines)

    entries += [
        user("Alice Anders", "aanders", "AlicePass1", 512, ["Developers"]),
        user("Dan Disabled", "ddisabled", "DanPass1", 514, ["Developers"]),
        user("Ada Admin", "aadmin", "AdaPass1", 66048, ["Harbor Admins"]),
        group("Developers", [f"cn=Alice Anders,{users}", f"cn=Dan Disabled,{users}"], ["Eng"]),
        group("Eng", [f"cn=Developers,{groups}"], []),
        group("Harbor Admins", [f"cn=Ada Admin,{users}"], []),
    ]
    return "\n\n".join(entries) + "\n"


OPENLDAP = Shape(
    name="openldap",
    suffix="dc=example,dc=org",
    uid="uid",
    user_filter="(objectClass=inetOrgPerson)",
    group_filter="(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)"
    "(objectClass=posixGroup))",
    memberof_overlay=True,
    extra_schema="",
    ldif=_openldap_ldif(),
)
AD = Shape(
    name="ad",
    suffix="dc=corp,dc=example",
    uid="sAMAccountName",
    user_filter="(objectClass=inetOrgPerson)",
    group_filter="(objectClass=groupOfNames)",
    memberof_overlay=False,
    extra_schema=AD_SCHEMA,
    ldif=_ad_ldif(),
)


def _module_available(name: str) -> bool:
    return (MODULE_DIR / f"{name}.la").exists() or (MODULE_DIR / f"{name}.so").exists()


@dataclass
class LdapServer:
    shape: Shape
    directory: Path
    port: int = field(default_factory=free_port)
    tls_port: int | None = None
    memberof: bool = False
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        assert self.tls_port, "started without ldaps"
        return f"ldaps://127.0.0.1:{self.tls_port}"

    @property
    def base_dn(self) -> str:
        return self.shape.suffix

    @property
    def root_dn(self) -> str:
        return f"cn=admin,{self.shape.suffix}"

    @property
    def service_dn(self) -> str:
        return f"cn=reader,{self.shape.suffix}"

    def dn(self, rdn: str) -> str:
        return f"{rdn},{self.shape.suffix}"

    def harbor_settings(self, **overrides: object) -> dict[str, object]:
        """The ldap_* configuration values (as for PUT /configurations) for this server."""
        values: dict[str, object] = {
            "ldap_url": self.url,
            "ldap_search_dn": self.service_dn,
            "ldap_search_password": SERVICE_PASSWORD,
            "ldap_base_dn": self.base_dn,
            "ldap_filter": self.shape.user_filter,
            "ldap_uid": self.shape.uid,
            "ldap_scope": 2,
            "ldap_timeout": 5,
            "ldap_verify_cert": False,
            "ldap_group_base_dn": self.dn("ou=groups" if self.shape is OPENLDAP else "ou=Groups"),
            "ldap_group_search_filter": self.shape.group_filter,
            "ldap_group_attribute_name": "cn",
            "ldap_group_search_scope": 2,
            "ldap_group_admin_dn": "",
            "ldap_group_membership_attribute": "memberof",
        }
        values.update(overrides)
        return values

    # -- lifecycle ------------------------------------------------------------------------
    def _write_config(self) -> Path:
        db = self.directory / "db"
        db.mkdir(parents=True, exist_ok=True)
        includes = [f"include {SCHEMA_DIR / n}.schema" for n in ("core", "cosine", "inetorgperson")]
        includes.append(f"include {SCHEMA_DIR / 'nis'}.schema")
        if self.shape.extra_schema:
            extra = self.directory / f"{self.shape.name}.schema"
            extra.write_text(self.shape.extra_schema)
            includes.append(f"include {extra}")
        modules = ["back_mdb"]
        self.memberof = self.shape.memberof_overlay and _module_available("memberof")
        if self.memberof:
            modules.append("memberof")
        if self.shape is OPENLDAP and _module_available("ppolicy"):
            modules.append("ppolicy")  # its schema: pwdAccountLockedTime
        tls = []
        if self.tls_port:
            cert, key = self_signed("127.0.0.1").write(self.directory)
            tls = [f"TLSCertificateFile {cert}", f"TLSCertificateKeyFile {key}"]
        lines = [
            *includes,
            f"modulepath {MODULE_DIR}",
            *[f"moduleload {m}" for m in modules],
            f"pidfile {self.directory / 'slapd.pid'}",
            *tls,
            # Passwords are for binding only; everything else is readable.
            "access to attrs=userPassword by anonymous auth by self write by * none",
            "access to * by * read",
            "database mdb",
            "maxsize 104857600",
            f'suffix "{self.shape.suffix}"',
            f'rootdn "{self.root_dn}"',
            f"rootpw {ROOT_PASSWORD}",
            f"directory {db}",
            "index objectClass eq",
            f"index {self.shape.uid},cn,member,uniqueMember,memberUid eq",
        ]
        if self.memberof:
            lines += ["overlay memberof", "memberof-refint TRUE"]
        path = self.directory / "slapd.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, timeout: float = 20) -> None:
        if not Path(SLAPD).exists():
            raise RuntimeError(f"{SLAPD} is missing: install the Debian package slapd")
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        urls = self.url + "/" + (f" ldaps://127.0.0.1:{self.tls_port}/" if self.tls_port else "")
        log = (self.directory / "slapd.log").open("wb")
        self.process = subprocess.Popen(
            [SLAPD, "-f", str(config), "-h", urls, "-d", "0"], stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"slapd exited:\n{(self.directory / 'slapd.log').read_text()}")
            with contextlib.suppress(ldap.LDAPError):
                conn = ldap.initialize(self.url)
                conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 1)
                conn.simple_bind_s(self.root_dn, ROOT_PASSWORD)
                conn.unbind_s()
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"slapd did not answer on {self.url} within {timeout}s")
            time.sleep(0.05)
        self.ldapadd(self.shape.ldif)
        if self.shape is OPENLDAP:
            self.lock_account("dave")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    # -- changing the directory -----------------------------------------------------------
    def _tool(self, tool: str, ldif: str) -> None:
        binary = shutil.which(tool)
        if binary is None:
            raise RuntimeError(f"{tool} is missing: install the Debian package ldap-utils")
        result = subprocess.run(
            [binary, "-x", "-H", self.url, "-D", self.root_dn, "-w", ROOT_PASSWORD],
            input=ldif,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stderr}")

    def ldapadd(self, ldif: str) -> None:
        self._tool("ldapadd", ldif)

    def ldapmodify(self, ldif: str) -> None:
        self._tool("ldapmodify", ldif)

    def ldapdelete(self, *dns: str) -> None:
        self._tool("ldapdelete", "\n".join(dns) + "\n")

    def set_password(self, dn: str, password: str) -> None:
        self.ldapmodify(
            f"dn: {dn}\nchangetype: modify\nreplace: userPassword\nuserPassword: {password}\n"
        )

    def lock_account(self, uid: str) -> None:
        """ppolicy's administrative lock (the value 000001010000Z means: until unlocked)."""
        dn = f"uid={uid},ou=people,{self.shape.suffix}"
        self.ldapmodify(
            f"dn: {dn}\nchangetype: modify\nreplace: pwdAccountLockedTime\n"
            "pwdAccountLockedTime: 000001010000Z\n"
        )


@contextlib.contextmanager
def running_slapd(
    directory: Path, shape: Shape = OPENLDAP, *, ldaps: bool = False
) -> Iterator[LdapServer]:
    server = LdapServer(shape=shape, directory=directory, tls_port=free_port() if ldaps else None)
    server.start()
    try:
        yield server
    finally:
        server.stop()


_shared: dict[tuple[str, bool], LdapServer] = {}


def shared_slapd(shape: Shape = OPENLDAP, *, ldaps: bool = False) -> LdapServer:
    """One server per shape for the whole process (fast tests share it), stopped at exit.
    Tests that change entries put them back."""
    key = (shape.name, ldaps)
    if key not in _shared:
        directory = Path(tempfile.mkdtemp(prefix=f"slapd-{shape.name}-"))
        server = LdapServer(
            shape=shape, directory=directory, tls_port=free_port() if ldaps else None
        )
        server.start()
        atexit.register(shutil.rmtree, directory, True)
        atexit.register(server.stop)
        _shared[key] = server
    return _shared[key]


if __name__ == "__main__":  # manual use: a directory to point a dev instance at
    with tempfile.TemporaryDirectory() as tmp, running_slapd(Path(tmp)) as srv:
        print(f"{srv.url}  base {srv.base_dn}  search as {srv.service_dn} / {SERVICE_PASSWORD}")
        with contextlib.suppress(KeyboardInterrupt):
            srv.process.wait()  # type: ignore[union-attr]  # running: started above

"""Which directory groups a user is in, nested groups included.

Three sources, united:
- the membership attribute on the user entry (ldap_group_membership_attribute, memberOf);
- groups under the group search root whose member / uniqueMember is the user's DN or whose
  memberUid is the user name (groupOfNames, groupOfUniqueNames, posixGroup);
- nesting: Active Directory resolves it in one search with LDAP_MATCHING_RULE_IN_CHAIN;
  elsewhere the groups that have one of the found groups as a member are searched level by
  level, at most MAX_DEPTH levels and in batches of BATCH DNs per filter.

DNs are returned normalized (accounts.selectors.normalize_dn), ready to compare with
UserGroup.ldap_group_dn.
"""

from __future__ import annotations

import logging

from ldap.filter import escape_filter_chars

from accounts.ldap_client import Directory, DirectoryUser, NoSuchBase
from accounts.selectors import normalize_dn

logger = logging.getLogger(__name__)

IN_CHAIN = "1.2.840.113556.1.4.1941"
MAX_DEPTH = 5
BATCH = 50
MAX_GROUPS = 5000


def member_clause(dns: list[str], extra_uid: str = "") -> str:
    parts = []
    for dn in dns:
        value = escape_filter_chars(dn)
        parts.append(f"(member={value})(uniqueMember={value})")
    if extra_uid:
        parts.append(f"(memberUid={escape_filter_chars(extra_uid)})")
    return f"(|{''.join(parts)})"


def in_chain_filter(group_filter: str, user_dn: str) -> str:
    return f"(&{group_filter}(member:{IN_CHAIN}:={escape_filter_chars(user_dn)}))"


def _search_dns(directory: Directory, filterstr: str) -> set[str]:
    s = directory.settings
    try:
        rows = directory.search(
            s.group_search_root, s.group_scope, filterstr, ["1.1"], limit=MAX_GROUPS
        )
    except NoSuchBase:
        logger.warning("LDAP group search base %r does not exist", s.group_search_root)
        return set()
    return {dn for dn, _ in rows}


def resolve(directory: Directory, user: DirectoryUser) -> set[str]:
    s = directory.settings
    found: dict[str, str] = {normalize_dn(dn): dn for dn in user.group_dns}
    if not s.group_search_root:
        return set(found)
    group_filter = s.effective_group_filter
    if directory.is_active_directory():
        for dn in _search_dns(directory, in_chain_filter(group_filter, user.dn)):
            found.setdefault(normalize_dn(dn), dn)
        return set(found)
    direct = _search_dns(directory, f"(&{group_filter}{member_clause([user.dn], user.username)})")
    for dn in direct:
        found.setdefault(normalize_dn(dn), dn)
    frontier = list(found.values())
    for _ in range(MAX_DEPTH):
        parents: dict[str, str] = {}
        for start in range(0, len(frontier), BATCH):
            clause = member_clause(frontier[start : start + BATCH])
            for dn in _search_dns(directory, f"(&{group_filter}{clause})"):
                key = normalize_dn(dn)
                if key not in found:
                    parents[key] = dn
        if not parents or len(found) >= MAX_GROUPS:
            break
        found.update(parents)
        frontier = list(parents.values())
    return set(found)

-- migrate_v5.sql - schema version 4 -> 5: the host table, a cache of what DNS and the user's
-- MMDB files say about each source IP (`dmarcstat enrich`, dns/).  Run once, inside the
-- migration transaction (see store.c); schema.sql creates the same table, and views.sql has
-- v_host over it.
--
-- One row per source IP that was looked up; IPs never looked up have no row.  The row is
-- replaced whole each time the IP is looked up again (after its TTL), so checked_at always
-- dates every column but service and kind, which each enrich run recomputes from ptr and
-- base_domain with the current services file (no DNS needed for that).
--
--   ip           as in record.source_ip (RFC 5952 for IPv6)
--   ptr          the first reverse DNS (PTR) name, lower case, no trailing dot; NULL: none
--   confirmed    1: a PTR name resolves back to ip (forward-confirmed reverse DNS), 0: none
--                does; NULL: no PTR name to confirm
--   base_domain  the registrable domain of ptr (public suffix list), e.g. amazonses.com
--   service      sending service named by the services file for ptr, e.g. "Amazon SES"
--   kind         that service's kind: esp, mailbox, list, forwarder, gateway
--   asn, as_org  autonomous system number and organisation (MMDB); NULL without an MMDB
--   country      ISO 3166-1 alpha-2 country code (MMDB)
--   checked_at   Unix seconds of the lookup
--   error        NULL when DNS answered (a missing PTR is an answer); else what failed
--                ("PTR lookup: timeout"): such rows are retried sooner than the others
CREATE TABLE host (
	ip TEXT PRIMARY KEY NOT NULL,
	ptr TEXT,
	confirmed INTEGER CHECK (confirmed IN (0, 1)),
	base_domain TEXT,
	service TEXT,
	kind TEXT,
	asn INTEGER,
	as_org TEXT,
	country TEXT,
	checked_at INTEGER NOT NULL,
	error TEXT
) WITHOUT ROWID;

CREATE INDEX host_service ON host (service);

-- migrate_v7.sql - schema version 6 -> 7: a report that conflicts with a stored one is kept.
--
-- A report with the identity of a stored one (reporter, report id, policy domain, period) but
-- other content used to be dropped: anyone can mail the rua address, so a forged first copy
-- made the genuine one vanish.  The conflicting copy is now quarantined with reason
-- 'conflict', and conflict_report names the stored report it conflicts with, so that
-- `dmarcstat quarantine resolve` can keep either, and report can count the unresolved ones.

ALTER TABLE quarantine ADD COLUMN conflict_report INTEGER;

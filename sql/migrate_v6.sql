-- migrate_v6.sql - schema version 5 -> 6: what an IMAP input must remember between runs (a
-- migration; the store runs it once, inside its migration transaction).
--
-- A folder is named by a key of its server, user and folder, "imaps://user@host:993/INBOX"
-- (never a password).  Its messages are known by UID, which is only meaningful together with
-- the folder's UIDVALIDITY: when the server changes UIDVALIDITY, everything kept under the old
-- value is void, the folder is read again from its first message, and each message's content
-- hash (input.sha256) decides whether it was stored before.

-- One row per folder: every message up to last_uid was processed (stored, quarantined, skipped
-- or seen before), so a run fetches only UIDs above it.
CREATE TABLE imap_folder (
	folder TEXT PRIMARY KEY,
	uidvalidity INTEGER NOT NULL,
	last_uid INTEGER NOT NULL
);

-- Messages processed and still waiting in their folder to be moved: to the --move-to folder,
-- or to the --failed-to folder when failed = 1 (quarantined or unreadable).  A row is written
-- in the batch of its message's unit and removed once the message was moved; a run without
-- --move-to (or --failed-to) leaves its rows for a later run that has one.
CREATE TABLE imap_message (
	folder TEXT NOT NULL,
	uidvalidity INTEGER NOT NULL,
	uid INTEGER NOT NULL,
	failed INTEGER NOT NULL CHECK (failed IN (0, 1)),
	PRIMARY KEY (folder, uidvalidity, uid)
) WITHOUT ROWID;

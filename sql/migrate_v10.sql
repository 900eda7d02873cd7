-- migrate_v10.sql - schema version 9 -> 10: a record's DKIM and SPF results in its own row.
--
-- Each result was a row of dkim_result or spf_result: two more B-tree inserts per record, a
-- quarter of the SQLite work of an ingest (bench/README.md).  They are now JSON arrays in
-- record.dkim_results and record.spf_results, and dkim_result and spf_result are views over
-- them with the same columns (schema.sql says more).

ALTER TABLE record ADD COLUMN dkim_results TEXT;
ALTER TABLE record ADD COLUMN spf_results TEXT;

-- The primary key (record, n) reads each record's results in order.
UPDATE record SET dkim_results = (SELECT json_group_array(json_array(d.domain, d.selector,
	d.result, d.human_result)) FROM (SELECT * FROM dkim_result d WHERE d.record = record.id
	ORDER BY d.n) d)
WHERE id IN (SELECT record FROM dkim_result);
UPDATE record SET spf_results = (SELECT json_group_array(json_array(s.domain, s.scope,
	s.result, s.human_result)) FROM (SELECT * FROM spf_result s WHERE s.record = record.id
	ORDER BY s.n) s)
WHERE id IN (SELECT record FROM spf_result);

DROP TABLE dkim_result;
DROP TABLE spf_result;

CREATE VIEW dkim_result (record, n, domain, selector, result, human_result) AS
SELECT r.id, j.key, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'),
    json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]')
FROM record r, json_each(r.dkim_results) j;

CREATE VIEW spf_result (record, n, domain, scope, result, human_result) AS
SELECT r.id, j.key, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'),
    json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]')
FROM record r, json_each(r.spf_results) j;

CREATE TRIGGER dkim_result_insert INSTEAD OF INSERT ON dkim_result
BEGIN
	UPDATE record SET dkim_results = json_insert(ifnull(dkim_results, '[]'), '$[#]',
	    json_array(NEW.domain, NEW.selector, NEW.result, NEW.human_result))
	WHERE id = NEW.record;
END;

CREATE TRIGGER spf_result_insert INSTEAD OF INSERT ON spf_result
BEGIN
	UPDATE record SET spf_results = json_insert(ifnull(spf_results, '[]'), '$[#]',
	    json_array(NEW.domain, NEW.scope, NEW.result, NEW.human_result))
	WHERE id = NEW.record;
END;

-- Every provisioning-log query names its service, so (service_id, time) from 0002 serves them
-- all; the index on time alone was only written, once per logged request.
DROP INDEX IF EXISTS provisioning_log_time;

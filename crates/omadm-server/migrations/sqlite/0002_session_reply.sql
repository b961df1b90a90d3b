-- The session's last reply (resent when the client repeats a message) in columns of its own, as
-- raw bytes: it was base64 inside the state JSON, encoded and decoded at every message. NULL in
-- the rows written before, whose state JSON still carries `last_reply`.
ALTER TABLE sessions ADD COLUMN last_reply_msg BIGINT;
ALTER TABLE sessions ADD COLUMN last_reply_body BLOB;
ALTER TABLE sessions ADD COLUMN last_reply_hmac TEXT;

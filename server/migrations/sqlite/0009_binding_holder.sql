-- Several instances on one database (issue 19): each binding records the SIP address
-- (host:port, UDP) of the instance that holds the device's flow, so that a call arriving at
-- another instance is forwarded there. Empty: written before this column existed.
ALTER TABLE bindings ADD COLUMN holder TEXT NOT NULL DEFAULT '';

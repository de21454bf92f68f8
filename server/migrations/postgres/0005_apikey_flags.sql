-- API keys are principals of their own (issue 13): a key carries the role it was created
-- with and the "manage administrators" flag only when created with it.
ALTER TABLE api_keys ADD COLUMN manage_admins BIGINT NOT NULL DEFAULT 0;

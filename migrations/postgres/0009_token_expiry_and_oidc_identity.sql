-- API tokens expire (RFC 3339 UTC, as created_at). NULL only for tokens made before this
-- migration: the first start after it gives each live one --token-max-days from then.
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;

-- Users who sign in through OpenID Connect are the provider's issuer and subject; their name
-- is for display. Local accounts have neither.
ALTER TABLE users ADD COLUMN oidc_issuer TEXT;
ALTER TABLE users ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX users_oidc_identity ON users (oidc_issuer, oidc_subject);

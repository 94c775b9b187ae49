-- Failed console logins, shared by every process, so guessing a password is throttled per
-- e-mail across the whole deployment, not per process. Rows older than the window are pruned.
CREATE TABLE login_failures (
  email TEXT NOT NULL,
  at    INTEGER NOT NULL
);
CREATE INDEX login_failures_email ON login_failures (email, at);

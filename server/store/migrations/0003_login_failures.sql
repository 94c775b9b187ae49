-- Failed console logins, shared by every process, so guessing a password is throttled per
-- e-mail across the whole deployment, not per process.
CREATE TABLE login_failures (
  email TEXT NOT NULL,
  at    INTEGER NOT NULL
);
CREATE INDEX login_failures_email ON login_failures (email, at);
-- Every failure prunes what has aged out, for every e-mail: tries at ever new addresses must not
-- grow the table without bound.
CREATE INDEX login_failures_at ON login_failures (at);

-- The shortener's one table: a short code and the URL it stands for.
CREATE TABLE IF NOT EXISTS links (
    code       TEXT        PRIMARY KEY,
    url        TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- `shorten` looks a URL up before minting a new code for it.
CREATE INDEX IF NOT EXISTS links_url_idx ON links (url);

"""Forward migrations of the DuckDB store, oldest first.

The DuckDB file is cached between CI runs for months while this list grows,
so a migration is never edited once released: add a new one at the end. Each
runs in its own transaction together with the version bump.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    (
        "initial schema",
        """
        CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);

        -- Repositories as the sources saw them (GitHub, or the demo generator).
        CREATE TABLE repos (
            full_name VARCHAR PRIMARY KEY,          -- owner/name
            name VARCHAR NOT NULL,
            description VARCHAR,
            homepage VARCHAR,
            html_url VARCHAR,
            language VARCHAR,
            topics VARCHAR[],
            license VARCHAR,
            stars INTEGER NOT NULL DEFAULT 0,
            forks INTEGER NOT NULL DEFAULT 0,
            is_fork BOOLEAN NOT NULL DEFAULT false,
            is_archived BOOLEAN NOT NULL DEFAULT false,
            is_private BOOLEAN NOT NULL DEFAULT false,
            created_at TIMESTAMP,
            pushed_at TIMESTAMP,
            activity_status VARCHAR,                -- ok | pending | empty
            source VARCHAR NOT NULL,                -- github | demo
            fetched_at TIMESTAMP
        );
        CREATE TABLE repo_languages (
            full_name VARCHAR NOT NULL,
            language VARCHAR NOT NULL,
            bytes BIGINT NOT NULL,
            PRIMARY KEY (full_name, language)
        );

        -- Daily inputs of the growth model, per repository.
        CREATE TABLE activity (
            full_name VARCHAR NOT NULL,
            day DATE NOT NULL,
            commits INTEGER NOT NULL DEFAULT 0,
            stars INTEGER NOT NULL DEFAULT 0,
            releases INTEGER NOT NULL DEFAULT 0,
            issues INTEGER NOT NULL DEFAULT 0,
            source VARCHAR NOT NULL,
            PRIMARY KEY (full_name, day)
        );

        -- Daily visitor attention per plant (from the sidecar's visit events).
        CREATE TABLE engagement (
            project VARCHAR NOT NULL,
            day DATE NOT NULL,
            views INTEGER NOT NULL DEFAULT 0,
            interactions INTEGER NOT NULL DEFAULT 0,
            visitors INTEGER NOT NULL DEFAULT 0,
            source VARCHAR NOT NULL,
            PRIMARY KEY (project, day)
        );

        -- The owner's contribution calendar (GitHub GraphQL).
        CREATE TABLE contributions (
            day DATE PRIMARY KEY,
            count INTEGER NOT NULL,
            source VARCHAR NOT NULL
        );

        -- Music plays accumulate: the APIs only ever return the latest ones.
        CREATE TABLE plays (
            source VARCHAR NOT NULL,                -- spotify | lastfm | demo
            played_at TIMESTAMP NOT NULL,
            track VARCHAR,
            artist VARCHAR,
            valence DOUBLE,
            energy DOUBLE,
            PRIMARY KEY (source, played_at)
        );

        -- Real local weather, one row per sync.
        CREATE TABLE weather_obs (
            source VARCHAR NOT NULL,                -- open-meteo | openweathermap | demo
            observed_at TIMESTAMP NOT NULL,
            condition VARCHAR NOT NULL,             -- sunny | cloudy | rainy | stormy | foggy | snowy
            code INTEGER,
            temperature DOUBLE,
            wind_speed DOUBLE,
            cloud_cover DOUBLE,
            PRIMARY KEY (source, observed_at)
        );

        -- Per-source freshness and cursors.
        CREATE TABLE sync_state (
            source VARCHAR PRIMARY KEY,
            last_attempt TIMESTAMP,
            last_success TIMESTAMP,
            status VARCHAR,                         -- ok | partial | failed
            message VARCHAR,
            cursor VARCHAR
        );

        -- Conditional-request validators per URL.
        CREATE TABLE http_cache (
            url VARCHAR PRIMARY KEY,
            etag VARCHAR,
            last_modified VARCHAR,
            body VARCHAR,
            fetched_at TIMESTAMP
        );
        """,
    ),
    (
        "history snapshots and build fingerprints",
        """
        CREATE TABLE snapshots (
            taken_on DATE PRIMARY KEY,
            fingerprint VARCHAR NOT NULL,
            body VARCHAR NOT NULL
        );
        CREATE TABLE builds (
            output VARCHAR PRIMARY KEY,
            fingerprint VARCHAR NOT NULL
        );
        """,
    ),
    (
        "music top items; Link header kept with cached bodies",
        """
        -- The owner's top tracks and artists per time range (Spotify), replaced each sync.
        CREATE TABLE music_top (
            source VARCHAR NOT NULL,                -- spotify
            kind VARCHAR NOT NULL,                  -- tracks | artists
            time_range VARCHAR NOT NULL,            -- short_term | medium_term | long_term
            rank INTEGER NOT NULL,                  -- 1 = top
            name VARCHAR NOT NULL,
            artist VARCHAR,                         -- tracks only
            genres VARCHAR[],                       -- artists only; may be missing
            popularity INTEGER,                     -- may be missing
            fetched_at TIMESTAMP NOT NULL,
            PRIMARY KEY (source, kind, time_range, rank)
        );
        -- Response headers a 304 does not repeat but the client needs (GitHub's Link).
        ALTER TABLE http_cache ADD COLUMN link VARCHAR;
        """,
    ),
    (
        "visit events and their daily aggregates",
        """
        -- Raw visit events from the sidecar, kept [analytics] retention_days.
        -- No primary key on purpose: ingestion deduplicates by id with an
        -- anti-join, which is ~6x cheaper than maintaining an index on a
        -- million ids (tests/bench/README.md). Only the keyed hash of a visitor
        -- is stored, never an address or a user agent.
        CREATE TABLE visit_events (
            id VARCHAR NOT NULL,                    -- <YYYYMMDD>-<sequence>-<instance>
            ts TIMESTAMP NOT NULL,                  -- UTC; clamped to the sync time if in the future
            day DATE NOT NULL,
            visitor VARCHAR NOT NULL,               -- the day's keyed hash (32 hex digits)
            type VARCHAR NOT NULL,                  -- view | interact | leave
            project VARCHAR,                        -- plant id; NULL = the overview
            action VARCHAR,                         -- like | water | share | open_repo
            referrer VARCHAR,                       -- host name only
            device VARCHAR,                         -- desktop | mobile | tablet
            duration DOUBLE                         -- seconds, on leave
        );

        -- Aggregates: recomputed per day from the raw events, kept after they expire.
        CREATE TABLE visit_daily (
            day DATE PRIMARY KEY,
            visitors INTEGER NOT NULL,
            visits INTEGER NOT NULL,
            views INTEGER NOT NULL,
            interactions INTEGER NOT NULL,
            seconds DOUBLE NOT NULL
        );
        CREATE TABLE visit_projects (
            day DATE NOT NULL,
            project VARCHAR NOT NULL,               -- '' = the overview
            views INTEGER NOT NULL,
            interactions INTEGER NOT NULL,
            visitors INTEGER NOT NULL,
            seconds DOUBLE NOT NULL,
            PRIMARY KEY (day, project)
        );
        CREATE TABLE visit_actions (
            day DATE NOT NULL,
            project VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            count INTEGER NOT NULL,
            visitors INTEGER NOT NULL,
            PRIMARY KEY (day, project, action)
        );
        CREATE TABLE visit_referrers (
            day DATE NOT NULL,
            referrer VARCHAR NOT NULL,
            views INTEGER NOT NULL,
            visitors INTEGER NOT NULL,
            PRIMARY KEY (day, referrer)
        );
        CREATE TABLE visit_devices (
            day DATE NOT NULL,
            device VARCHAR NOT NULL,
            visitors INTEGER NOT NULL,
            PRIMARY KEY (day, device)
        );
        CREATE TABLE visit_hours (
            day DATE NOT NULL,
            hour INTEGER NOT NULL,                  -- 0..23 UTC
            views INTEGER NOT NULL,
            visitors INTEGER NOT NULL,
            PRIMARY KEY (day, hour)
        );
        """,
    ),
    (
        "engagement keyed by source, so demo and real visits never overwrite each other",
        """
        CREATE TABLE engagement_by_source (
            project VARCHAR NOT NULL,
            day DATE NOT NULL,
            views INTEGER NOT NULL DEFAULT 0,
            interactions INTEGER NOT NULL DEFAULT 0,
            visitors INTEGER NOT NULL DEFAULT 0,
            source VARCHAR NOT NULL,
            PRIMARY KEY (project, day, source)
        );
        INSERT INTO engagement_by_source SELECT project, day, views, interactions, visitors, source
            FROM engagement;
        DROP TABLE engagement;
        ALTER TABLE engagement_by_source RENAME TO engagement;
        """,
    ),
    (
        "the sidecar's latest realtime figure, with the time it was observed",
        """
        CREATE TABLE visit_realtime (
            name VARCHAR PRIMARY KEY,               -- 'sidecar': one row
            visitors INTEGER NOT NULL,              -- distinct visitors in the 5 minutes before…
            observed_at TIMESTAMP NOT NULL,         -- …this time (UTC, the sidecar's clock)
            received_at TIMESTAMP NOT NULL          -- the sync that brought it (UTC)
        );
        """,
    ),
    (
        "sync state that outlives a run: API budgets, the newest rotated credential, "
        "repository look-ups; listing pages no longer cached whole",
        """
        -- Each upstream budget's last known state, so a run before its reset sends nothing.
        CREATE TABLE rate_limits (
            source VARCHAR NOT NULL,                -- github | spotify | lastfm | weather | …
            budget VARCHAR NOT NULL,                -- core | graphql | … ; '*' = a pause of the whole client
            remaining INTEGER,
            "limit" INTEGER,
            reset_at TIMESTAMP,                     -- UTC; nothing is sent before it while remaining = 0
            PRIMARY KEY (source, budget)
        );

        -- The newest value of a rotating credential (Spotify's refresh token).
        -- A secret, like the validators of http_cache: the store is private.
        CREATE TABLE credentials (
            source VARCHAR NOT NULL,
            name VARCHAR NOT NULL,                  -- refresh_token
            value VARCHAR NOT NULL,
            seed_sha256 VARCHAR NOT NULL,           -- the environment value it descends from
            retired_sha256 VARCHAR[] NOT NULL,      -- values it replaced (hashes only)
            rotated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (source, name)
        );

        -- Repositories named by content files but absent from the owner's listing.
        CREATE TABLE repo_lookups (
            full_name VARCHAR PRIMARY KEY,          -- owner/name as the content file writes it
            status VARCHAR NOT NULL,                -- renamed | missing | elsewhere
            target VARCHAR,                         -- the new owner/name of a renamed repository
            checked_at TIMESTAMP NOT NULL
        );

        -- The pushed_at whose details (statistics, languages) are stored: a repository needs
        -- fetching again when the listing shows another one, whatever the clocks say.
        ALTER TABLE repos ADD COLUMN details_pushed_at TIMESTAMP;
        -- Details fetched a day or more after the push were computed after it; fetched sooner
        -- (maybe before GitHub recomputed its statistics), they are fetched once more.
        UPDATE repos SET details_pushed_at = pushed_at
            WHERE fetched_at IS NOT NULL AND pushed_at IS NOT NULL
            AND fetched_at >= pushed_at + INTERVAL 1 DAY;

        -- Listing pages were cached whole, with private repositories' names and descriptions.
        DELETE FROM http_cache WHERE regexp_matches(url, '/users/[^/]+/repos');
        """,
    ),
    (
        "generated demo activity in tables of its own, without primary keys",
        """
        -- Written only by the demo generator (sources/demo.py), which replaces them whole.
        -- No primary key on purpose: keeping one up to date made loading a 1,000-project
        -- demo ~10x slower, and re-inserting the keys a regeneration had just deleted
        -- slower still, out of DuckDB's 256 MB (tests/bench/README.md). The generator
        -- writes one row per (repository or plant, day); readers add them to the real ones.
        CREATE TABLE demo_activity (
            full_name VARCHAR NOT NULL,
            day DATE NOT NULL,
            commits INTEGER NOT NULL,
            stars INTEGER NOT NULL,
            releases INTEGER NOT NULL,
            issues INTEGER NOT NULL
        );
        CREATE TABLE demo_engagement (
            project VARCHAR NOT NULL,
            day DATE NOT NULL,
            views INTEGER NOT NULL,
            interactions INTEGER NOT NULL
        );
        INSERT INTO demo_activity SELECT full_name, day, commits, stars, releases, issues
            FROM activity WHERE source = 'demo';
        DELETE FROM activity WHERE source = 'demo';
        INSERT INTO demo_engagement SELECT project, day, views, interactions
            FROM engagement WHERE source = 'demo';
        DELETE FROM engagement WHERE source = 'demo';
        """,
    ),
    (
        "link-preview images cached by content hash",
        """
        -- PNGs the build drew (link previews, icons), keyed by a hash of everything that
        -- decides their pixels: an unchanged picture is never drawn twice. A cache: rows
        -- the latest build did not use are dropped, and losing them only costs time.
        CREATE TABLE image_cache (
            digest VARCHAR PRIMARY KEY,
            png BLOB NOT NULL
        );
        """,
    ),
    (
        "commit ids of forges that give them; forge contribution calendars",
        """
        -- Commit ids per repository, from the forges whose API lists them (GitLab,
        -- Forgejo, plugins): a plant joining mirrored repositories counts each
        -- commit once. activity.commits stays the per-day count of each repository.
        CREATE TABLE repo_commits (
            repo VARCHAR NOT NULL,                  -- repos.full_name (e.g. gitlab:me/tool)
            sha VARCHAR NOT NULL,
            day DATE NOT NULL,                      -- the author date, UTC
            PRIMARY KEY (repo, sha)
        );
        -- The owner's daily contributions on forges with a calendar of their own
        -- (Forgejo's heatmap); GitHub's calendar stays in contributions.
        CREATE TABLE forge_contributions (
            source VARCHAR NOT NULL,
            day DATE NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (source, day)
        );
        """,
    ),
]

SCHEMA_VERSION = len(MIGRATIONS)

"""Notes: a small Flask app over a PostgreSQL table, the example of Berth's developer workflow (see README.md).

The database comes from DATABASE_URL (postgresql://user:password@host:5432/db) or, without it, from libpq's PG*
variables (PGHOST, PGUSER, PGPASSWORD, PGDATABASE). Until the database answers, the app says so and retries.
"""
import os
import sys
import time

import psycopg2
from flask import Flask, redirect, render_template_string, request, url_for

TITLE = "Berth notes"

app = Flask(__name__)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body>
  <h1>{{ title }}</h1>
  <form method="post" action="{{ url_for('add') }}">
    <input name="text" placeholder="a note" required autofocus> <button>Add</button>
  </form>
  <p>{{ notes|length }} note{{ '' if notes|length == 1 else 's' }}</p>
  <ul>{% for created, text in notes %}<li>{{ text }} <small>({{ created.strftime('%Y-%m-%d %H:%M:%S') }})</small></li>{% endfor %}</ul>
</body></html>
"""


def connect():
    """A new connection: from DATABASE_URL, else libpq's PG* environment variables."""
    return psycopg2.connect(os.environ.get("DATABASE_URL", ""), connect_timeout=3)


def wait_for_db(attempts=int(os.environ.get("DB_RETRIES", "30")), delay=1.0):
    """Creates the table once the database answers; a short message per failed try instead of a stack trace."""
    for attempt in range(1, attempts + 1):
        try:
            with connect() as conn, conn.cursor() as cur:
                cur.execute("CREATE TABLE IF NOT EXISTS notes ("
                            "id serial PRIMARY KEY, text text NOT NULL, created timestamptz NOT NULL DEFAULT now())")
            conn.close()
            return
        except psycopg2.OperationalError as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            print(f"database not ready, retrying in {delay:.0f}s ({attempt}/{attempts}): {reason}", file=sys.stderr, flush=True)
            time.sleep(delay)
    sys.exit(f"database not reachable after {attempts} tries: set DATABASE_URL or PGHOST/PGUSER/PGPASSWORD/PGDATABASE")


@app.errorhandler(psycopg2.OperationalError)
def database_down(e):
    return f"database not ready: {str(e).strip().splitlines()[0] if str(e).strip() else 'no connection'}\n", 503


@app.get("/")
def index():
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT created, text FROM notes ORDER BY id DESC")
        notes = cur.fetchall()
    conn.close()
    return render_template_string(PAGE, title=TITLE, notes=notes)


@app.post("/notes")
def add():
    text = request.form.get("text", "").strip()
    if text:
        with connect() as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO notes (text) VALUES (%s)", (text,))
        conn.close()
    return redirect(url_for("index"), code=303)


if __name__ == "__main__":
    wait_for_db()
    # debug: the reloader restarts the app when a (bind-mounted) source file changes; FLASK_DEBUG=0 turns it off
    app.run(host="0.0.0.0", port=5000, debug=os.environ.get("FLASK_DEBUG", "1") != "0")

"""The web front: server-rendered pages (Jinja2), bilingual Hindi/English, small-screen first."""

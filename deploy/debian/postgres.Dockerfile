# A stand-in for the official postgres image, for a machine that reaches no image registry: the same
# interface (POSTGRES_USER, POSTGRES_PASSWORD, PGDATA, PGPORT, /docker-entrypoint-initdb.d/*.sh on the
# first start, `postgres` as the command), on a base image with Debian's postgresql-15.
# tests/images.py builds it (with BASE = its Debian base) for the compose test.
ARG BASE
FROM ${BASE}
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
RUN install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
    && install -d -o postgres -g postgres -m 2775 /var/run/postgresql \
    && install -d -m 0755 /docker-entrypoint-initdb.d
COPY deploy/debian/postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER postgres
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]

# cvms API and worker image: slim Python, non-root, no test or dev dependencies.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY worker ./worker
COPY notifications ./notifications
COPY records ./records
COPY services ./services
COPY domain ./domain
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 cvms
COPY --from=build /install /usr/local
USER cvms
WORKDIR /home/cvms
ENV PYTHONUNBUFFERED=1 \
    CVMS_API_HOST=0.0.0.0 \
    CVMS_API_PORT=8000
EXPOSE 8000
# `cvms api` by default; the worker service runs `cvms worker`, the migrate job `cvms migrate`.
CMD ["cvms", "api"]

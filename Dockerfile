# syntax=docker/dockerfile:1
# httpextension container image.
#
#   docker build --build-arg VERSION="$(node -p "require('./package.json').version")" -t httpextension:0.1.0 .
#   docker run -d -p 5001:5001 --name httpextension httpextension:0.1.0 -p 5001
#
# Four stages so that the final image holds production dependencies, compiled JavaScript and the compiled
# libjpeg-turbo binding only: no TypeScript, no Biome, no compiler, no npm cache, no sources. docs/deploy.md explains
# every choice; deploy/image/test-image.sh builds and checks this file in CI from a base image made locally (no
# registry is reachable there).

# Any Debian-based Node LTS image with glibc: sharp and @napi-rs/image ship prebuilt linux-x64/arm64 gnu binaries.
ARG BASE_IMAGE=node:24-bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
# Lockfile first: this layer stays cached while only sources change. --ignore-scripts because `prepare` would run
# tsc before the sources are here and the project's own `install` would build the JPEG binding, which the `native`
# stage does; no dependency needs an install script (the only other one in the lockfile, onnxruntime-node's, fetches
# optional CUDA binaries from outside the registry: the CPU runtime is in the package).
COPY package.json package-lock.json ./
# Optional build secrets for networks that reach the npm registry only through their own proxy or mirror:
#   --secret id=npmrc,src=PATH (a user .npmrc: registry=, cafile=/run/secrets/npm_ca, ...)
#   --secret id=npm_ca,src=PATH (a CA bundle). Secrets stay out of every layer; absent, the mounts are empty.
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc --mount=type=secret,id=npm_ca,target=/run/secrets/npm_ca \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

# The optional libjpeg-turbo binding (native/jpeg-turbo; 2-3x cheaper JPEG decoding than sharp). The compiler and
# headers stay in this stage. node-gyp is npm's own copy and takes the Node headers from the base image
# (/usr/local/include/node, as in the official image): nothing is downloaded but Debian packages. If the build fails,
# install.mjs says so, the stage yields no binding and the server decodes JPEGs with sharp (deploy/image/test-image.sh
# fails on that in CI).
FROM ${BASE_IMAGE} AS native
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc g++ libc6-dev make python3 libjpeg62-turbo-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY native/jpeg-turbo ./native/jpeg-turbo
RUN npm_config_nodedir=/usr/local node native/jpeg-turbo/install.mjs \
    && mkdir -p /out/native/jpeg-turbo/build/Release \
    && if [ -f native/jpeg-turbo/build/Release/jpeg_turbo.node ]; then \
         cp native/jpeg-turbo/build/Release/jpeg_turbo.node /out/native/jpeg-turbo/build/Release/; fi

FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only (onnxruntime-node, optional for npm, is installed: npm ci installs optional
# dependencies and --ignore-scripts skips its CUDA download); the cache is left behind with this stage. The pipeline
# runner's bundled ffmpeg is an optional peer of the package (users add it), but the image runs the IoT Edge
# `pipeline` module too: it is added at the lockfile's version (installed apart, then copied: within this project npm
# would take it for the development dependency it is, and omit it). --ignore-scripts also skips its `chmod u+x`, which
# the non-root process could not do at run time in files owned by root: done here. ONNX Runtime ships binaries for
# five platforms (290 MB): only this platform's stays; of @vladmandic/human's models only objectDetection's
# CenterNet is kept.
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc --mount=type=secret,id=npm_ca,target=/run/secrets/npm_ca \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && ffmpeg="$(node -p "require('./package-lock.json').packages['node_modules/@ffmpeg-installer/ffmpeg'].version")" \
    && npm install --prefix /tmp/ffmpeg --ignore-scripts --no-audit --no-fund "@ffmpeg-installer/ffmpeg@${ffmpeg}" \
    && cp -r /tmp/ffmpeg/node_modules/@ffmpeg-installer node_modules/ && rm -rf /tmp/ffmpeg \
    && find node_modules -path '*@ffmpeg-installer/*' -name ffmpeg -type f -exec chmod 0755 {} + \
    && arch="$(node -p process.arch)" \
    && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 -type d ! -path "*/linux/${arch}" -exec rm -rf {} + \
    && find node_modules/@vladmandic/human/models -type f ! -name 'centernet.*' -delete

FROM ${BASE_IMAGE} AS runtime
# The package's version (package.json), given by whoever builds: deploy/image/test-image.sh tags and labels with it.
ARG VERSION
ARG SOURCE=https://www.npmjs.com/package/httpextension
LABEL org.opencontainers.image.title="httpextension" \
      org.opencontainers.image.description="Computer-vision AI behind the HTTP extension protocol of video analytics pipelines" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="MIT"
ENV NODE_ENV=production
# The binding's one shared library (libjpeg.so.62, 0.6 MB) and a font for the labels /annotate draws (DejaVu, with
# fontconfig's configuration, which sharp's bundled fontconfig reads: without a font the labels have no text); the
# package index is not kept.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libjpeg62-turbo fontconfig-config fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY proto ./proto
# native/jpeg-turbo/build/Release/jpeg_turbo.node, where src/inference/jpeg-native.ts looks for it (empty if the
# build failed).
COPY --from=native /out/ ./
COPY package.json ./
COPY deploy/image/healthcheck.mjs ./healthcheck.mjs
# A numeric user (the base image's `node`, uid 1000) so that Kubernetes' runAsNonRoot can verify it; the app files
# stay owned by root and read-only to the process.
USER 1000:1000
EXPOSE 5001
# The check reads the port from PID 1's own flags (-p/--port), else HX_PORT, else 5001: `IMAGE -p 6000` stays healthy.
HEALTHCHECK --interval=15s --timeout=4s --start-period=30s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
# Exec form, no shell, no npm: node is PID 1 and receives SIGTERM itself; the CLI drains for shutdownGraceMs
# (default 10 s), so give `docker stop -t` more than that.
STOPSIGNAL SIGTERM
# The heap flags are src/cli/heap-flags.ts's (V8 reads them at start; the reasons and figures are there).
ENTRYPOINT ["node", "--max-semi-space-size=64", "--initial-heap-size=128", "/app/dist/src/cli/main.js"]
CMD ["serve"]

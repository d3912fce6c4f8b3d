# One image for every service; docker-compose.yml picks the entry point per container.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Served by gRPC reflection at run time.
COPY --from=build /app/proto ./proto
COPY --from=build /app/console ./console
# The one-container mesh keeps its embedded PostgreSQL and keys here (mount a volume on it).
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
# Without a command: the whole mesh in one container (embedded PostgreSQL under /app/.data
# unless DATABASE_URL is set).
CMD ["node", "dist/bin/mesh.js"]

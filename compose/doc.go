// Package compose holds no code: it is the docker-compose stack
// (docker-compose.yml, replicator.env, emulator.Dockerfile, scripts/ and
// faults/) and the tests that check it without a Docker engine.
//
// Contract checked by compose_test.go:
//   - docker-compose.yml loads with compose-go, the loader `docker compose
//     config` uses, under each profile (localstack, emulator), with the
//     services, profiles, depends_on conditions and health checks below.
//   - Both AWS services answer as "aws" inside the stack; their images default
//     to the same pinned tags as the Testcontainers backend.
//   - Every variable the replicator gets is a setting it parses
//     (config.Settings) or an AWS SDK variable, and replicator.env loads with
//     config.Load.
//   - The scripts pass `sh -n` and do what they say against stubs or the
//     real emulator control API; the fault rule files are valid fault.Rules.
package compose

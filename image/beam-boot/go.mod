// Beam's Python SDK container entrypoint (boot), the program Beam's own SDK
// images start: built from Beam's Go module for the image (image/build.sh),
// at the Beam release the image's apache-beam is (constraints.txt). go.sum
// pins the module's hashes.
module tfds-pipeline/image/beam-boot

go 1.21

require github.com/apache/beam/sdks/v2 v2.59.0

require (
	golang.org/x/net v0.28.0 // indirect
	golang.org/x/sys v0.24.0 // indirect
	golang.org/x/text v0.17.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20240730163845-b1a4ccb954bf // indirect
	google.golang.org/grpc v1.65.0 // indirect
	google.golang.org/protobuf v1.34.2 // indirect
)

{
  "targets": [
    {
      "target_name": "jpeg_turbo",
      "sources": ["jpeg_turbo.c"],
      "libraries": ["-ljpeg"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-clobbered"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}

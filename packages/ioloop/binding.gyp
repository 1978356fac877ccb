{
  "targets": [
    {
      "target_name": "tornado_ioloop",
      "sources": ["native/tornado_ioloop.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": { "GCC_OPTIMIZATION_LEVEL": "2" }
    }
  ]
}

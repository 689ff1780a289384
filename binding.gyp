{
  "targets": [
    {
      "target_name": "capspawn",
      "sources": [
        "native/addon.cc",
        "native/child.cc",
        "native/launch.cc",
        "native/nss.cc",
        "native/tap.cc",
        "native/watch.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": [
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-O2",
        "-fstack-protector-strong",
        "-D_FORTIFY_SOURCE=2",
        "-fno-plt"
      ],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++20"],
      "ldflags": ["-Wl,-z,now", "-Wl,-z,relro", "-Wl,-z,noexecstack"],
      "conditions": [
        ["OS!='linux'", {"sources!": [
          "native/addon.cc", "native/child.cc", "native/launch.cc", "native/nss.cc", "native/tap.cc", "native/watch.cc"
        ], "sources": ["native/unsupported.cc"]}]
      ]
    }
  ]
}

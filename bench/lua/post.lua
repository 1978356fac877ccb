-- wrk script: POST with a body of `size` bytes (default 1024) and Content-Type application/octet-stream.
-- No request() function, so wrk builds the request once and sends it as is (no Lua per request).
-- usage: wrk -s post.lua <url> -- <size>
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.body = string.rep("x", 1024)

init = function(args)
  local size = tonumber(args[1])
  if size then
    wrk.body = string.rep("x", size)
  end
end

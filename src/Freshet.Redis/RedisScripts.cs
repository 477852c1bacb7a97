namespace Freshet.Redis;

/// <summary>
/// The Lua scripts that make newest-wins, puts and swaps atomic on the server. They use only what Redis 7's Lua
/// 5.1 and Garnet's Lua 5.4 both have (<c>string.byte</c>, arithmetic that stays exact in doubles), and touch
/// only the keys they are given, all of one hash slot in cluster mode.
/// </summary>
internal static class RedisScripts
{
    /// <summary>
    /// KEYS[i] gets ARGV[i] unless the stored row is newer; returns how many were stored. Timestamps are read from
    /// RowCodec's header (format byte, event and created microseconds as little-endian int64) with one
    /// <c>string.byte</c> per row, in exact 32-bit halves rather than compared as strings: Lua compares strings with
    /// the server's collation locale. A stored value that is not a row (a state row put under the same key) is
    /// replaced. The stored rows are fetched with one <c>MGET</c> and the winners written with one <c>MSET</c> per
    /// block of keys (two server calls per block instead of a <c>GET</c> and a <c>SET</c> per row); a key given twice
    /// is compared with the row accepted before it in the same call, and <c>MSET</c> applies its pairs in order.
    /// </summary>
    public const string Write = """
        local unpack = table.unpack or unpack
        local function word(b1, b2, b3, b4) return ((b4 * 256 + b3) * 256 + b2) * 256 + b1 end
        local function signed(v) if v >= 2147483648 then return v - 4294967296 end return v end
        local function older(new, cur)
          local n1, n2, n3, n4, n5, n6, n7, n8, n9, n10, n11, n12, n13, n14, n15, n16 = string.byte(new, 2, 17)
          local c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16 = string.byte(cur, 2, 17)
          local nh, ch = signed(word(n5, n6, n7, n8)), signed(word(c5, c6, c7, c8))
          if nh ~= ch then return nh < ch end
          local nl, cl = word(n1, n2, n3, n4), word(c1, c2, c3, c4)
          if nl ~= cl then return nl < cl end
          nh, ch = signed(word(n13, n14, n15, n16)), signed(word(c13, c14, c15, c16))
          if nh ~= ch then return nh < ch end
          return word(n9, n10, n11, n12) < word(c9, c10, c11, c12)
        end
        local stored = 0
        local accepted = {}
        local block = 200
        for first = 1, #KEYS, block do
          local last = math.min(first + block - 1, #KEYS)
          local curs = redis.call('MGET', unpack(KEYS, first, last))
          local sets = {}
          local n = 0
          for i = first, last do
            local key = KEYS[i]
            local cur = accepted[key]
            if cur == nil then cur = curs[i - first + 1] end
            local new = ARGV[i]
            if (not cur) or string.len(cur) < 17 or string.byte(cur, 1) ~= 1 or not older(new, cur) then
              accepted[key] = new
              sets[n + 1] = key
              sets[n + 2] = new
              n = n + 2
              stored = stored + 1
            end
          end
          if n > 0 then redis.call('MSET', unpack(sets, 1, n)) end
        end
        return stored
        """;

    /// <summary>Puts in order: ARGV[2i-1] is '1' to set KEYS[i] to ARGV[2i], '0' to delete it.</summary>
    public const string Put = """
        for i = 1, #KEYS do
          if ARGV[2 * i - 1] == '1' then
            redis.call('SET', KEYS[i], ARGV[2 * i])
          else
            redis.call('DEL', KEYS[i])
          end
        end
        return #KEYS
        """;

    /// <summary>
    /// Compare-and-set per key: ARGV[3i-2] is two flags (expected present, new value present), ARGV[3i-1] the
    /// expected value, ARGV[3i] the new one; returns 1 or 0 per key.
    /// </summary>
    public const string Swap = """
        local applied = {}
        for i = 1, #KEYS do
          local flags = ARGV[3 * i - 2]
          local cur = redis.call('GET', KEYS[i])
          local ok
          if string.sub(flags, 1, 1) == '1' then ok = (cur == ARGV[3 * i - 1]) else ok = (not cur) end
          if ok then
            if string.sub(flags, 2, 2) == '1' then
              redis.call('SET', KEYS[i], ARGV[3 * i])
            else
              redis.call('DEL', KEYS[i])
            end
            applied[i] = 1
          else
            applied[i] = 0
          end
        end
        return applied
        """;
}

/// @file types.hpp
/// @brief CUDA's vector types (dim3, uint3, float4 ...) with the same size and alignment.
#pragma once

#include <cstddef>

namespace halfway::simt {

#define HALFWAY_EMU_VEC2(name, T, align)                              \
  struct __attribute__((aligned(align))) name {                       \
    T x, y;                                                           \
  };                                                                  \
  inline constexpr name make_##name(T x, T y) { return name{x, y}; }
#define HALFWAY_EMU_VEC3(name, T)                                     \
  struct name {                                                       \
    T x, y, z;                                                        \
  };                                                                  \
  inline constexpr name make_##name(T x, T y, T z) { return name{x, y, z}; }
#define HALFWAY_EMU_VEC4(name, T, align)                              \
  struct __attribute__((aligned(align))) name {                       \
    T x, y, z, w;                                                     \
  };                                                                  \
  inline constexpr name make_##name(T x, T y, T z, T w) { return name{x, y, z, w}; }

HALFWAY_EMU_VEC2(char2, signed char, 2)
HALFWAY_EMU_VEC4(char4, signed char, 4)
HALFWAY_EMU_VEC2(uchar2, unsigned char, 2)
HALFWAY_EMU_VEC4(uchar4, unsigned char, 4)
HALFWAY_EMU_VEC2(short2, short, 4)
HALFWAY_EMU_VEC4(short4, short, 8)
HALFWAY_EMU_VEC2(ushort2, unsigned short, 4)
HALFWAY_EMU_VEC4(ushort4, unsigned short, 8)
HALFWAY_EMU_VEC2(int2, int, 8)
HALFWAY_EMU_VEC3(int3, int)
HALFWAY_EMU_VEC4(int4, int, 16)
HALFWAY_EMU_VEC2(uint2, unsigned, 8)
HALFWAY_EMU_VEC3(uint3, unsigned)
HALFWAY_EMU_VEC4(uint4, unsigned, 16)
HALFWAY_EMU_VEC2(float2, float, 8)
HALFWAY_EMU_VEC3(float3, float)
HALFWAY_EMU_VEC4(float4, float, 16)
HALFWAY_EMU_VEC2(double2, double, 16)
HALFWAY_EMU_VEC2(longlong2, long long, 16)
HALFWAY_EMU_VEC2(ulonglong2, unsigned long long, 16)

#undef HALFWAY_EMU_VEC2
#undef HALFWAY_EMU_VEC3
#undef HALFWAY_EMU_VEC4

/// Launch dimensions: unspecified components are 1, as in CUDA.
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

}  // namespace halfway::simt

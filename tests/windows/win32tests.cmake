# Copyright (c) Berth authors. SPDX-License-Identifier: MIT
# The Win32 core's own tests: plain executables (no Qt), each exits 0 on success. Used by the
# mingw-w64 + wine build (tests/windows/wine) and, natively, by the Windows CI build.
include(${CMAKE_CURRENT_LIST_DIR}/../../platform/windows/core/sources.cmake)

add_library(berth_wincore STATIC ${BERTH_WINCORE_PORTABLE_SOURCES} ${BERTH_WINCORE_WIN32_SOURCES})
target_include_directories(berth_wincore PUBLIC ${CMAKE_CURRENT_LIST_DIR}/../../platform/windows/core)
target_compile_definitions(berth_wincore PUBLIC ${BERTH_WINCORE_DEFINITIONS})
target_compile_features(berth_wincore PUBLIC cxx_std_20)
target_link_libraries(berth_wincore PUBLIC ${BERTH_WINCORE_LIBS})
if(NOT MSVC)
    target_compile_options(berth_wincore PUBLIC -Wall -Wextra -Wno-unused-parameter)
    if(BERTH_DEVELOPER_MODE)
        target_compile_options(berth_wincore PUBLIC -Werror)
    endif()
endif()

set(_dir ${CMAKE_CURRENT_LIST_DIR}/wine)
add_executable(berth_testsvc ${_dir}/berth_testsvc.cpp ${_dir}/check.h)
add_executable(tst_wincore_scm ${_dir}/tst_wincore_scm.cpp ${_dir}/check.h)
add_executable(tst_wincore_console ${_dir}/tst_wincore_console.cpp ${_dir}/check.h)
foreach(t berth_testsvc tst_wincore_scm tst_wincore_console)
    target_link_libraries(${t} PRIVATE berth_wincore)
    if(MINGW)
        target_link_options(${t} PRIVATE -municode)   # wmain()
    endif()
endforeach()
add_dependencies(tst_wincore_scm berth_testsvc)

add_test(NAME tst_wincore_console COMMAND tst_wincore_console)
add_test(NAME tst_wincore_scm COMMAND tst_wincore_scm)
set_tests_properties(tst_wincore_console tst_wincore_scm PROPERTIES TIMEOUT 180)
if(CMAKE_CROSSCOMPILING)
    # Under wine: quiet, with its own prefix in the build tree, and never an X display.
    set_tests_properties(tst_wincore_console tst_wincore_scm PROPERTIES
        ENVIRONMENT "WINEDEBUG=-all;WINEPREFIX=${BERTH_WINEPREFIX};DISPLAY=")
    # Both use the one wineprefix (services.exe, the console): one at a time.
    set_tests_properties(tst_wincore_console tst_wincore_scm PROPERTIES RESOURCE_LOCK wineprefix)
endif()
unset(_dir)

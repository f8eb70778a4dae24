# Installs the build into a scratch prefix, builds tests/install/consumer against it and runs it.
# Usage: cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P run.cmake
file(REMOVE_RECURSE ${WORK_DIR})
function(step)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
    endif()
    set(last_output "${out}" PARENT_SCOPE)
endfunction()
step(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
step(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/build -G Ninja
     -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Debug)
step(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
step(${WORK_DIR}/build/consumer services)
if(NOT last_output MATCHES "hello  the smallest service there is" OR NOT last_output MATCHES "chaos  ")
    message(FATAL_ERROR "consumer does not list its own and the built-in types:\n${last_output}")
endif()
if(EXISTS ${WORK_DIR}/prefix/include/berth/servicehost.h OR NOT EXISTS ${WORK_DIR}/prefix/include/berth/service.h
   OR NOT EXISTS ${WORK_DIR}/prefix/include/berth/configvalue.h)
    message(FATAL_ERROR "installed headers are not exactly host/include/berth")
endif()
message(STATUS "installed Berth builds and runs a consumer")
